"""``webinars`` commands: check the files, list them, show a webinar's numbers, load an attendee report."""

from __future__ import annotations

import argparse
from pathlib import Path

from funnelflow.cli import command_engine, parse_as_of


def register(sub: argparse._SubParsersAction) -> None:
    web = sub.add_parser("webinars", help="check, list and follow webinars (config/webinars/*.yaml)")
    wsub = web.add_subparsers(dest="webinars_command", required=True, metavar="ACTION")
    check = wsub.add_parser("check", help="validate every webinar file (exit 1 with file, line and fix)")
    check.set_defaults(func=_check)
    lst = wsub.add_parser("list", help="every webinar: when (local and UTC), capacity, status")
    lst.set_defaults(func=_list)
    status = wsub.add_parser(
        "status", help="a webinar's numbers: invited, registered, waitlisted, attended, no-show"
    )
    status.add_argument("slug")
    status.set_defaults(func=_status)
    att = wsub.add_parser("attendance", help="load an attendee report (Zoom, GoToWebinar or Teams export)")
    att.add_argument("slug")
    att.add_argument("file", type=Path)
    att.add_argument("--as-of", help="ISO time the report counts as loaded (default: now)")
    att.set_defaults(func=_attendance)
    demo = wsub.add_parser(
        "demo", help="make demo: invited leads and a new person register; write their attendee report"
    )
    demo.add_argument("slug")
    demo.add_argument("--as-of", required=True, help="ISO time the guests register at")
    demo.add_argument("--report", type=Path, required=True, help="where to write the attendee report")
    demo.set_defaults(func=_demo)


def _check(args: argparse.Namespace) -> int:
    from funnelflow.webinars.config import load_webinars

    good, problems = load_webinars()
    for problem in problems:
        print(problem)
    print(f"{len(good)} webinar file(s) valid, {len(problems)} with mistakes")
    return 1 if problems else 0


def _list(args: argparse.Namespace) -> int:
    from funnelflow.webinars.config import load_webinars

    good, problems = load_webinars()
    for w in good:
        local = w.spec.starts_at.strftime("%Y-%m-%d %H:%M")
        print(
            f"{w.slug:40} {local} {w.spec.timezone} ({w.starts_at:%Y-%m-%d %H:%M} UTC) "
            f"{w.spec.duration_minutes} min, capacity {w.spec.capacity}, {w.status}"
        )
    for problem in problems:
        print(f"(not loaded) {problem}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from funnelflow.cli import CommandError
    from funnelflow.webinars import registrations

    engine = command_engine()
    try:
        numbers = registrations.numbers(engine, args.slug)
        invited = registrations.invited(engine, args.slug)
    except registrations.WebinarNotFound:
        raise CommandError(
            f"no webinar {args.slug!r} in the database yet (the webinars DAG adds it)"
        ) from None
    finally:
        engine.dispose()
    print(f"webinar {args.slug}")
    print(f"  invited     {invited:>8,}")
    for key in ("registered", "waitlisted", "cancelled", "attended", "no_show"):
        print(f"  {key.replace('_', '-'):11} {numbers[key]:>8,}")
    print(f"  seats       {numbers['seats_taken']:,} of {numbers['capacity']:,}")
    return 0


def _attendance(args: argparse.Namespace) -> int:
    from funnelflow.ingest.config import load_sources
    from funnelflow.webinars.attendance_import import import_report
    from funnelflow.webinars.config import webinar_named

    webinar = webinar_named(args.slug)
    as_of = parse_as_of(args.as_of)
    source = load_sources().file_source_for(args.file.name)
    engine = command_engine()
    try:
        result = import_report(engine, webinar, args.file.read_bytes(), args.file.name, source, as_of)
    finally:
        engine.dispose()
    print(
        f"{result.platform} report: {result.rows} rows, {result.attendees} people, "
        f"{result.new_leads} new leads, "
        f"attended {result.attended}, no-show {result.no_show}, set aside {result.rejected}"
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    from funnelflow.webinars.config import webinar_named
    from funnelflow.webinars.demo import attendee_report, register_guests

    webinar, engine = webinar_named(args.slug), command_engine()
    try:
        guests = register_guests(engine, webinar, parse_as_of(args.as_of))
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_bytes(attendee_report(engine, webinar, guests))
    finally:
        engine.dispose()
    clicked = ", ".join(status for _, status in guests.one_click) or "nobody invited yet"
    print(f"webinar {args.slug}: one-click registrations: {clicked}; registration page: {guests.form}")
    return 0
