"""``status``: the whole funnel now, in numbers a person can read.

Leads and their stages, rejects, the send ledger by status (``unsettled``
included: sends nobody can prove went out), webhook events and landed rows
still waiting for their DAG, suppressions by reason, whether the circuit
breaker holds marketing email; then, from ``funnelflow.overview`` (the same
sections as the Airflow UI's Funnel page): the sales queue by status and its SLA,
the campaigns with their next run (from their files' schedules) and last results,
upcoming webinars, and the latest weekly report. Everything is judged as of
``--as-of`` (default now). Counts and names of things only, never a person.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import UTC, datetime

import sqlalchemy as sa

from funnelflow import clock, settings
from funnelflow.db.schema import (
    LIFECYCLE_STAGES,
    SEND_STATUSES,
    SUPPRESSION_REASONS,
    email_events,
    email_sends,
    ingest_rejects,
    lead_landing,
    leads,
    suppressions,
    touchpoints,
)
from funnelflow.overview import (
    campaigns_overview,
    counts_by,
    latest_report,
    queue_overview,
    upcoming_webinars,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "status",
        help="the whole funnel now: leads, sends, the breaker, the sales queue, campaigns due, webinars",
    )
    p.add_argument(
        "--as-of",
        type=datetime.fromisoformat,
        default=None,
        help="judge everything (breaker, SLA, next campaign runs, upcoming webinars) as of this time "
        "(ISO 8601; default now)",
    )
    p.set_defaults(func=_status)


def _count(conn: sa.Connection, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def collect(engine: sa.Engine, as_of: datetime | None = None) -> dict[str, object]:
    """The numbers ``status`` prints; the breaker is judged as of ``as_of`` (default: now)."""
    from funnelflow.email.policy import breaker_state

    as_of = as_of or clock.now()
    as_of = as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of.astimezone(UTC)
    with engine.connect() as conn:
        return {
            "leads": _count(conn, leads),
            "touchpoints": _count(conn, touchpoints),
            "rejected": _count(conn, ingest_rejects, ingest_rejects.c.replayed_at.is_(None)),
            "by_stage": counts_by(conn, leads.c.lifecycle_stage, LIFECYCLE_STAGES),
            "emails": counts_by(conn, email_sends.c.status, SEND_STATUSES),
            "events_waiting": _count(conn, email_events, email_events.c.processed_at.is_(None)),
            "landed_waiting": _count(conn, lead_landing, lead_landing.c.processed_at.is_(None)),
            "suppressions": counts_by(conn, suppressions.c.reason, SUPPRESSION_REASONS),
            "breaker": {**asdict(breaker_state(conn, as_of)), "as_of": as_of.isoformat()},
            "queue": queue_overview(conn, as_of),
            "campaigns": campaigns_overview(conn, as_of),
            "webinars": upcoming_webinars(conn, as_of),
            "report": latest_report(conn, as_of),
        }


def _listing(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in counts.items())


def _status(args: argparse.Namespace) -> int:
    from funnelflow.db.engine import check_reachable, make_engine
    from funnelflow.db.migrate import require_current_schema
    from funnelflow.db.url import redact

    engine = make_engine()
    check_reachable(engine)
    require_current_schema(engine)
    s = collect(engine, args.as_of)
    print(f"marketing_db: {redact(engine.url)}")
    print(f"leads:        {s['leads']:>8,}")
    print(f"touchpoints:  {s['touchpoints']:>8,}")
    print(f"rejected:     {s['rejected']:>8,}  (ingest_rejects not yet replayed)")
    print(f"by stage:     {_listing(s['by_stage'])}")
    print(f"emails:       {_listing(s['emails'])}")
    print(f"waiting:      {s['events_waiting']:>8,}  SendGrid events not yet processed (email_engagement)")
    print(f"              {s['landed_waiting']:>8,}  landed form/ad leads not yet processed (lead_ingestion)")
    print(f"suppressions: {_listing(s['suppressions'])}")
    breaker = s["breaker"]
    if breaker["tripped"]:
        print(f"breaker:      TRIPPED, marketing email paused: {breaker['reason']}")
    else:
        print(
            f"breaker:      not tripped, marketing email flows "
            f"({breaker['sends']:,} marketing sends in 7 days; "
            f"bounce rate {breaker['bounce_rate']:.2%}, spam-report rate {breaker['spam_rate']:.2%})"
        )
    _print_funnel(s)
    outbox = settings.funnelflow_home() / "outbox"
    if outbox.is_dir():
        print(f"outbox:       {sum(1 for _ in outbox.rglob('*.eml')):>8,}  .eml files in {outbox}")
    return 0


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _print_funnel(s: dict) -> None:
    """The sales queue, campaigns due, upcoming webinars and the latest report (``funnelflow.overview``)."""
    q = s["queue"]
    print(f"queue:        {_listing(q['by_status'])}")
    oldest = f" (oldest due {_when(q['oldest_breach_due_at'])})" if q["oldest_breach_due_at"] else ""
    breached = f"{q['breached']:,} BREACHED{oldest}" if q["breached"] else "0 breached"
    print(
        f"sla:          {q['open']:,} open, {q['waiting']:,} not yet acted on: "
        f"{q['due_soon']:,} due soon, {breached}"
    )
    label = "campaigns:   "
    if not s["campaigns"]:
        print(f"{label} none (no files in config/campaigns/)")
    for c in s["campaigns"]:
        if c["error"]:
            when = "INVALID file: run `python -m funnelflow campaigns check`"
        elif c["next_run"]:
            when = f"next {_when(c['next_run'])} ({c['schedule']}, {c['timezone']})"
        elif c["schedule"]:
            when = f"no further runs ({c['schedule']})"
        else:
            when = "no file (runs only)"
        run = c["last_run"]
        last = (
            f"; last run {_when(run['as_of'])} {run['status']}: sent {run['sent']:,}, "
            f"delivered {run['delivered']:,}, opens {run['opens']:,}, clicks {run['clicks']:,}"
            if run
            else "; no run yet"
        )
        print(f"{label} {c['slug']}: {when}{last}")
        label = "             "
    label = "webinars:    "
    if not s["webinars"]:
        print(f"{label} none upcoming")
    for w in s["webinars"]:
        print(
            f"{label} {w['slug']}: {_when(w['starts_at'])}, {w['registered']:,} registered, "
            f"{w['waitlisted']:,} waitlisted, seats {w['seats_taken']:,} of {w['capacity']:,}"
        )
        label = "             "
    r = s["report"]
    if r is None:
        print("report:       none yet (the weekly_funnel_report DAG saves one each Monday)")
    else:
        figures = r["figures"]
        numbers = (
            f": new leads {figures['new_leads']:,}, MQLs {figures['mql']:,}, SQLs {figures['sql']:,}, "
            f"customers {figures['customer']:,}"
            if figures
            else ""
        )
        where = settings.funnelflow_home() / "reports" / r["week"] / "report.html"
        print(
            f"report:       {r['week']}{numbers}" + (f" ({where})" if r["file"] else " (file not saved here)")
        )
