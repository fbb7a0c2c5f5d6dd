"""``privacy hash`` and ``privacy forget``: erasure requests without the address reaching Airflow.

``python -m funnelflow privacy hash`` reads an address (prompted without echo,
or from stdin) and prints the SHA-256 of its normalized form: the value to give
the ``forget_person`` DAG. ``privacy forget PERSON`` runs the same erasure
without Airflow (local inbox only), for an operator at the database host.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("privacy", help="erasure requests: hash an address, forget a person")
    actions = p.add_subparsers(dest="privacy_command", required=True, metavar="ACTION")
    h = actions.add_parser(
        "hash", help="print the email hash forget_person takes (reads the address from a prompt or stdin)"
    )
    h.set_defaults(func=_hash)
    f = actions.add_parser(
        "forget", help="forget a person now, without Airflow (same work as the forget_person DAG)"
    )
    f.add_argument("person", help="a lead id or the email hash from `privacy hash` (never the address)")
    f.set_defaults(func=_forget)


def _hash(args: argparse.Namespace) -> int:
    from funnelflow.cli import CommandError
    from funnelflow.identity import email_hash

    # A prompt, not an argument: an address in argv would land in the shell history.
    raw = getpass.getpass("email address: ") if sys.stdin.isatty() else sys.stdin.readline()
    value = email_hash(raw)
    if value is None:
        raise CommandError("that is not an email address")
    print(value)
    return 0


def _forget(args: argparse.Namespace) -> int:
    import fsspec

    from funnelflow import settings
    from funnelflow.cli import CommandError
    from funnelflow.db.engine import make_engine
    from funnelflow.db.migrate import require_current_schema
    from funnelflow.db.schema import utcnow
    from funnelflow.privacy.forget import NotAPersonReference, forget_person, parse_subject

    try:
        subject = parse_subject(args.person)
    except NotAPersonReference as exc:
        raise CommandError(str(exc)) from None
    url = settings.env("FUNNELFLOW_INBOX_URL") or f"file://{settings.funnelflow_home() / 'inbox' / 'leads'}"
    if not url.startswith("file://"):
        raise CommandError(
            f"the inbox is not local ({url.split(':', 1)[0]}://): "
            "run the forget_person DAG, which has its connection"
        )
    engine = make_engine()
    require_current_schema(engine)
    try:
        result = forget_person(
            engine,
            subject,
            utcnow(),
            inbox=(fsspec.filesystem("file"), url[len("file://") :]),
            outbox=settings.funnelflow_home() / "outbox",
            run_id=f"cli:{utcnow():%Y-%m-%dT%H:%M:%S}",
        )
    except LookupError as exc:
        raise CommandError(str(exc)) from None
    print(json.dumps(result.as_dict(), indent=2))
    return 0
