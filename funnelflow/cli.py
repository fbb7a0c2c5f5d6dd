"""``python -m funnelflow``: the command line marketing ops and engineers use.

Each area registers its own subcommands (``register(subparsers)`` in the
modules listed in ``COMMAND_MODULES``), so this file only wires them. The
command line reads ``AIRFLOW_CONN_MARKETING_DB`` itself and needs no running
Airflow.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from funnelflow import clock

if TYPE_CHECKING:
    import sqlalchemy as sa

COMMAND_MODULES = (
    "funnelflow.db.cli",
    "funnelflow.web.cli",
    "funnelflow.status",
    "funnelflow.ingest.cli",
    "funnelflow.qualify.cli",
    "funnelflow.synth.cli",
    "funnelflow.settings_cli",
    "funnelflow.privacy.cli",
    "funnelflow.sql_cli",
    "funnelflow.metrics.cli",
    "funnelflow.campaigns.cli",
    "funnelflow.sales.cli",
    "funnelflow.webinars.cli",
)


class CommandError(Exception):
    """An error the user can fix; printed as one line, exit status 2."""


def command_engine() -> sa.Engine:
    """The marketing database for a command: reachable and migrated, else one clear error line."""
    from funnelflow.db.engine import check_reachable, make_engine
    from funnelflow.db.migrate import require_current_schema

    engine = make_engine()
    check_reachable(engine)
    require_current_schema(engine)
    return engine


def parse_as_of(text: str | None, option: str = "--as-of") -> datetime:
    """An ``--as-of`` value: an ISO time (UTC when it names no zone), or now when not given."""
    if not text:
        return clock.now()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option} {text!r} is not an ISO time, e.g. 2026-12-08T09:00:00+01:00") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m funnelflow", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        # Known configuration problems print one clear line, not a traceback.
        from funnelflow.db.engine import MarketingDbUnreachable
        from funnelflow.db.migrate import SchemaBehind
        from funnelflow.db.url import MarketingDbConfigError
        from funnelflow.settings import HomeNotWritable

        if isinstance(exc, MarketingDbUnreachable | MarketingDbConfigError | SchemaBehind | HomeNotWritable):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise
