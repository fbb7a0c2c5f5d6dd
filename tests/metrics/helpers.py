"""Build small, hand-checkable funnels in the test database."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from funnelflow.db.schema import leads, lifecycle_history, touchpoints
from funnelflow.metrics.compute import compute_week
from funnelflow.metrics.weeks import Week

# email_weekly's figures, in its column order
EMAIL_FIGURES = (
    "sent",
    "delivered",
    "bounced",
    "unique_opens",
    "unique_clicks",
    "unsubscribes",
    "spam_reports",
)
WEEK = "2026-W47"  # Monday 2026-11-16 .. Monday 2026-11-23, UTC unless a test says otherwise


def at(day: int, hour: int = 12, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def add_lead(conn: sa.Connection, lead_id: int, merged_into: int | None = None) -> None:
    conn.execute(
        leads.insert().values(
            id=lead_id, email=f"p{lead_id}@x.io", email_key=f"p{lead_id}@x.io", merged_into_id=merged_into
        )
    )


def add_touch(
    conn: sa.Connection,
    lead_id: int,
    when: datetime,
    channel: str = "web_form",
    *,
    touch_type: str = "form_fill",
    source: str | None = "website",
    campaign: str | None = None,
    scored: bool = True,
    touch_id: int | None = None,
    source_ref: str | None = None,
) -> int:
    values = {
        "lead_id": lead_id,
        "occurred_at": when,
        "channel": channel,
        "touch_type": touch_type,
        "source": source,
        "campaign": campaign,
        "scored": scored,
        "source_ref": source_ref,
    }
    if touch_id is not None:
        values["id"] = touch_id
    return conn.execute(touchpoints.insert().values(**values).returning(touchpoints.c.id)).scalar_one()


def add_stage(conn: sa.Connection, lead_id: int, to_stage: str, when: datetime) -> None:
    conn.execute(
        lifecycle_history.insert().values(
            lead_id=lead_id, from_stage=None, to_stage=to_stage, changed_at=when, reason="test"
        )
    )


def compute(engine: sa.Engine, week: str = WEEK, tz=None) -> Week:
    w = Week.parse(week, tz)
    compute_week(engine, w)
    return w


def rows(engine: sa.Engine, table: sa.Table, **where) -> list[dict]:
    stmt = sa.select(table)
    for name, value in where.items():
        stmt = stmt.where(table.c[name] == value)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]
