"""``synth`` subcommands: the reference companies, export files, a loaded database, the demo data."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

DEFAULT_UNTIL = "2026-11-23T12:00:00+00:00"


def _until(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO timestamp like {DEFAULT_UNTIL}: {text!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a rate is a number between 0 and 1, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"a rate is a number between 0 and 1, got {text!r}")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=42, help="same seed, same data (default 42)")
    p.add_argument(
        "--until",
        type=_until,
        default=_until(DEFAULT_UNTIL),
        help=f"the synthetic 'now'; all timestamps fall before it (default {DEFAULT_UNTIL})",
    )


def register(sub: argparse._SubParsersAction) -> None:
    synth = sub.add_parser("synth", help="make synthetic companies, leads, files and touchpoints (seeded)")
    ssub = synth.add_subparsers(dest="synth_command", required=True, metavar="ACTION")

    ref = ssub.add_parser(
        "reference", help="write the reference universe of companies (funnelflow/data/companies.csv)"
    )
    ref.add_argument("--out", required=True, help="CSV file to write")
    ref.add_argument("--seed", type=int, default=None, help="default: the seed of the shipped file")
    ref.add_argument("--companies", type=int, default=None, help="how many (default 3000)")
    ref.set_defaults(func=_reference)

    files = ssub.add_parser("files", help="write one lead export file with the mess of real exports")
    files.add_argument("--rows", type=int, required=True)
    files.add_argument("--out", required=True, help="file to write")
    files.add_argument(
        "--format",
        choices=("csv", "tsv", "xlsx"),
        default=None,
        help="default: from the file extension, else csv",
    )
    files.add_argument("--encoding", choices=("utf-8", "utf-8-sig", "utf-16", "cp1252"), default="utf-8")
    files.add_argument("--delimiter", choices=(",", ";", "tab", "|"), default=",")
    files.add_argument(
        "--header-style",
        choices=("plain", "hubspot", "salesforce", "german", "french", "webinar"),
        default="plain",
    )
    files.add_argument(
        "--repeat-rate", type=_rate, default=0.05, help="share of rows repeating a person (default 0.05)"
    )
    files.add_argument(
        "--broken-rate",
        type=_rate,
        default=0.02,
        help="share of rows with a malformed address (default 0.02)",
    )
    files.add_argument("--weeks", type=int, default=4)
    _common(files)
    files.set_defaults(func=_files)

    db = ssub.add_parser(
        "db", help="load accounts, leads, touchpoints and consents into the marketing database"
    )
    db.add_argument("--leads", type=int, required=True)
    db.add_argument(
        "--touchpoints-per-lead",
        type=int,
        default=10,
        help="average touchpoints per lead (default 10; 0 for none)",
    )
    db.add_argument(
        "--weeks", type=int, default=12, help="how far back first_seen_at and touchpoints go (default 12)"
    )
    _common(db)
    db.set_defaults(func=_db)

    demo = ssub.add_parser(
        "demo", help="the demo data set: export files in the inbox and web-form posts in lead_landing"
    )
    demo.add_argument("--people", type=int, default=2000)
    _common(demo)
    demo.set_defaults(func=_demo)

    history = ssub.add_parser(
        "history",
        help="the demo's past weeks through the real pipelines: scoring, routing, SLA, feedback, CRM deals, "
        "a weekly newsletter and its SendGrid events (to the outbox)",
    )
    history.add_argument("--weeks", type=int, default=12, help="weeks of history up to --until (default 12)")
    _common(history)
    history.set_defaults(func=_history)

    sg = ssub.add_parser(
        "events",
        help="SendGrid-style events (delivered, opens, clicks, ...) for the messages sent to leads "
        "from --since, stored and processed as of --as-of (make demo's own week)",
    )
    sg.add_argument("--since", type=_until, required=True, help="first send time (ISO)")
    sg.add_argument("--as-of", type=_until, required=True, help="no event after it; processed as of it")
    sg.add_argument("--seed", type=int, default=42, help="same seed, same events (default 42)")
    sg.set_defaults(func=_events)


def _reference(args: argparse.Namespace) -> int:
    from funnelflow.synth.reference import REFERENCE_SEED, REFERENCE_SIZE, generate_companies, write_companies

    frame = generate_companies(
        args.seed if args.seed is not None else REFERENCE_SEED, args.companies or REFERENCE_SIZE
    )
    path = write_companies(args.out, frame)
    print(f"wrote {len(frame):,} companies ({int(frame['competitor'].sum())} competitors) to {path}")
    return 0


def _files(args: argparse.Namespace) -> int:
    from funnelflow.cli import CommandError
    from funnelflow.synth.arrivals import make_arrivals
    from funnelflow.synth.files import write_export

    if args.rows < 0:
        raise CommandError("--rows must be zero or more")
    fmt = args.format
    if fmt is None:
        ext = args.out.rsplit(".", 1)[-1].lower() if "." in args.out else ""
        fmt = ext if ext in ("csv", "tsv", "xlsx") else "csv"
    if fmt == "xlsx" and args.rows > 1_048_575:
        raise CommandError("an XLSX sheet holds at most 1,048,575 data rows; use --format csv")
    started = time.perf_counter()
    frame = make_arrivals(
        args.rows,
        args.seed,
        repeat_rate=args.repeat_rate,
        broken_rate=args.broken_rate,
        until=args.until,
        weeks=args.weeks,
    )
    path = write_export(
        frame,
        args.out,
        fmt=fmt,
        encoding=args.encoding,
        delimiter=args.delimiter,
        header_style=args.header_style,
        timestamp=args.until,
    )
    counts = frame["_mess"].value_counts()
    print(
        f"wrote {len(frame):,} rows ({args.header_style}, {fmt}, {args.encoding}) to {path} in "
        f"{time.perf_counter() - started:.1f}s: {int(counts.get('repeat', 0)):,} repeats, "
        f"{int(counts.get('broken', 0)):,} broken addresses"
    )
    return 0


def _db(args: argparse.Namespace) -> int:
    from funnelflow.cli import CommandError
    from funnelflow.db.engine import check_reachable, make_engine
    from funnelflow.db.migrate import require_current_schema
    from funnelflow.db.url import redact
    from funnelflow.synth.db import load_database

    if args.leads < 0 or args.touchpoints_per_lead < 0 or args.weeks < 1:
        raise CommandError("--leads and --touchpoints-per-lead must be zero or more, --weeks at least 1")
    engine = make_engine()
    check_reachable(engine)
    require_current_schema(engine)
    started = time.perf_counter()
    result = load_database(
        engine,
        args.leads,
        seed=args.seed,
        until=args.until,
        weeks=args.weeks,
        touchpoints_per_lead=args.touchpoints_per_lead,
    )
    print(
        f"marketing_db {redact(engine.url)}: {result.accounts:,} accounts, {result.leads:,} leads, "
        f"{result.touchpoints:,} touchpoints, {result.consents:,} consents "
        f"in {time.perf_counter() - started:.1f}s"
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    from funnelflow.db.engine import check_reachable, make_engine
    from funnelflow.db.migrate import require_current_schema
    from funnelflow.synth.demo import write_demo

    engine = make_engine()
    check_reachable(engine)
    require_current_schema(engine)
    result = write_demo(engine, seed=args.seed, until=args.until, people=args.people)
    for path, rows in result.files:
        print(f"  {path.name}: {rows:,} rows")
    print(
        f"demo data: {sum(r for _, r in result.files):,} file rows in {result.inbox}, "
        f"{result.landing:,} web-form posts in lead_landing"
    )
    return 0


def _events(args: argparse.Namespace) -> int:
    from funnelflow.db.engine import check_reachable, make_engine
    from funnelflow.db.migrate import require_current_schema
    from funnelflow.synth.mail import events_since

    engine = make_engine()
    check_reachable(engine)
    require_current_schema(engine)
    stored = events_since(engine, args.since, args.as_of, args.seed)
    print(f"SendGrid events: {stored:,} stored and processed")
    return 0


def _history(args: argparse.Namespace) -> int:
    from funnelflow.db.engine import check_reachable, make_engine
    from funnelflow.db.migrate import require_current_schema
    from funnelflow.email.transports import OutboxTransport
    from funnelflow.qualify.rules import load_active_rules
    from funnelflow.sales.team import load_team
    from funnelflow.synth.history import build_history

    engine = make_engine()
    check_reachable(engine)
    require_current_schema(engine)
    result = build_history(
        engine,
        load_team(),
        load_active_rules(engine).rules,
        seed=args.seed,
        until=args.until,
        weeks=args.weeks,
        # Synthetic people's newsletters go to the outbox whatever FUNNELFLOW_EMAIL_TRANSPORT says:
        # never to a real provider.
        transport=OutboxTransport(),
    )
    for line in result.lines():
        print(line)
    return 0
