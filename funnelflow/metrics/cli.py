"""``report weekly`` and ``report backfill``: the weekly funnel metrics and report from the command line.

``python -m funnelflow report weekly --week 2026-W47`` computes that week (and any earlier week of
the 12-week trend never computed), writes FUNNELFLOW_HOME/reports/2026-W47/ and prints where;
``--send`` also emails the stakeholders in config/reports.yaml (once per week: the ledger remembers).
``report backfill --from 2026-W01 --to 2026-W47`` computes the weeks in one transaction, each result
table in one statement. ``report origins`` brings the maintained origins and first stage entries
up to date now (every computation does it first; between weekly runs it keeps Monday's short),
``--full`` rebuilds them (``funnelflow.metrics.origins``).
"""

from __future__ import annotations

import argparse
import json

from funnelflow.cli import command_engine


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="weekly funnel metrics and the stakeholder report")
    actions = p.add_subparsers(dest="report_command", required=True, metavar="ACTION")
    w = actions.add_parser("weekly", help="compute one ISO week, write its report files, optionally send it")
    w.add_argument("--week", required=True, help="ISO week, e.g. 2026-W47 (in FUNNELFLOW_REPORT_TZ)")
    w.add_argument("--send", action="store_true", help="email it to config/reports.yaml's stakeholders")
    w.set_defaults(func=_weekly)
    b = actions.add_parser("backfill", help="compute a range of ISO weeks in one transaction")
    b.add_argument("--from", dest="first", required=True, help="first ISO week, e.g. 2026-W01")
    b.add_argument("--to", dest="last", required=True, help="last ISO week (included)")
    b.set_defaults(func=_backfill)
    o = actions.add_parser(
        "origins", help="refresh the maintained lead origins and first stage entries for the leads changed"
    )
    o.add_argument("--full", action="store_true", help="rebuild them from all touchpoints and stage changes")
    o.set_defaults(func=_origins)


def _parse(text: str):
    from funnelflow.cli import CommandError
    from funnelflow.metrics.weeks import BadWeek, Week

    try:
        return Week.parse(text)
    except BadWeek as exc:
        raise CommandError(str(exc)) from None


def _weekly(args: argparse.Namespace) -> int:
    from funnelflow import settings
    from funnelflow.cli import CommandError
    from funnelflow.email.transports import transport_from_settings
    from funnelflow.metrics.compute import compute_for_report
    from funnelflow.metrics.config import load_reports_config
    from funnelflow.metrics.report import build_report, save_report, send_report
    from funnelflow.yaml_config import ConfigFileError

    week = _parse(args.week)
    try:
        stakeholders = [s.email for s in load_reports_config().weekly_funnel_report.stakeholders]
    except ConfigFileError as exc:
        raise CommandError(str(exc)) from None
    engine = command_engine()
    results = compute_for_report(engine, week)
    report = build_report(engine, week)
    folder = save_report(report, stakeholders)
    print(json.dumps({"computed": [r.as_dict() for r in results]}, indent=1))
    print(f"report: {folder / 'report.html'}")
    if args.send:
        if (settings.env("FUNNELFLOW_EMAIL_TRANSPORT", "outbox") or "").strip().lower() == "sendgrid":
            raise CommandError(
                "sending through SendGrid needs the `sendgrid_default` Airflow connection: "
                "trigger the weekly_funnel_report DAG, or set FUNNELFLOW_EMAIL_TRANSPORT=outbox or smtp"
            )
        sent = send_report(engine, report, stakeholders, transport_from_settings(), as_of=week.ends_at)
        print(f"sent: {json.dumps(sent.as_dict())}")
    return 0


def _backfill(args: argparse.Namespace) -> int:
    from funnelflow.cli import CommandError
    from funnelflow.metrics.compute import compute_weeks
    from funnelflow.metrics.weeks import BadWeek, weeks_between

    try:
        weeks = weeks_between(_parse(args.first), _parse(args.last))
    except BadWeek as exc:
        raise CommandError(str(exc)) from None
    for result in compute_weeks(command_engine(), weeks):
        print(json.dumps(result.as_dict()))
    return 0


def _origins(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from funnelflow.metrics import origins

    with command_engine().connect() as conn:
        result = origins.refresh(conn, full=args.full)
    print(json.dumps(asdict(result) | {"seconds": round(result.seconds, 2)}))
    return 0
