"""``status``: what is in the marketing database, in numbers a person can read.

Leads and their stages, rejects, the send ledger by status (``unsettled``
included: sends nobody can prove went out), webhook events and landed rows
still waiting for their DAG, suppressions by reason, and whether the circuit
breaker holds marketing email. Counts only, never a person.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import UTC, datetime

import sqlalchemy as sa

from funnelflow import settings
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


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "status",
        help="counts of leads, rejects, stages, sends, waiting events, suppressions and the circuit breaker",
    )
    p.add_argument(
        "--as-of",
        type=datetime.fromisoformat,
        default=None,
        help="judge the circuit breaker as of this time (ISO 8601; default now)",
    )
    p.set_defaults(func=_status)


def _counts_by(conn: sa.Connection, column: sa.Column, names: tuple[str, ...]) -> dict[str, int]:
    """Rows per value of ``column``, every known value listed (0 when none), unknown ones after them."""
    found = dict(conn.execute(sa.select(column, sa.func.count()).group_by(column)).all())
    return {name: found.pop(name, 0) for name in names} | dict(sorted(found.items()))


def _count(conn: sa.Connection, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def collect(engine: sa.Engine, as_of: datetime | None = None) -> dict[str, object]:
    """The numbers ``status`` prints; the breaker is judged as of ``as_of`` (default: now)."""
    from funnelflow.email.policy import breaker_state

    as_of = as_of or datetime.now(UTC)
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    with engine.connect() as conn:
        return {
            "leads": _count(conn, leads),
            "touchpoints": _count(conn, touchpoints),
            "rejected": _count(conn, ingest_rejects, ingest_rejects.c.replayed_at.is_(None)),
            "by_stage": _counts_by(conn, leads.c.lifecycle_stage, LIFECYCLE_STAGES),
            "emails": _counts_by(conn, email_sends.c.status, SEND_STATUSES),
            "events_waiting": _count(conn, email_events, email_events.c.processed_at.is_(None)),
            "landed_waiting": _count(conn, lead_landing, lead_landing.c.processed_at.is_(None)),
            "suppressions": _counts_by(conn, suppressions.c.reason, SUPPRESSION_REASONS),
            "breaker": {**asdict(breaker_state(conn, as_of)), "as_of": as_of.isoformat()},
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
    outbox = settings.funnelflow_home() / "outbox"
    if outbox.is_dir():
        print(f"outbox:       {sum(1 for _ in outbox.rglob('*.eml')):>8,}  .eml files in {outbox}")
    return 0
