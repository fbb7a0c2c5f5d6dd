"""Which leads a qualification step must look at, and the keys of its run bookkeeping
(kept by ``funnelflow.db.state``).

A lead needs qualifying when it is new or changed since qualification last saw
it: ``qualified_at`` holds the ``updated_at`` value the last scoring pass
processed, so ``updated_at > qualified_at`` is exact and cannot miss a late
commit the way a global timestamp watermark can. Qualification's own writes
(flags, enrichment, scores) leave ``updated_at`` alone for the same reason.
New touchpoints are found through a watermark on ``touchpoints.id`` (the
highest id scored). A touchpoint whose transaction commits after a later one was
already scored slips under the watermark; the daily full re-score picks it up,
so nothing is missed for more than a day.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

import sqlalchemy as sa

from funnelflow.db.schema import leads

TOUCH_WATERMARK_KEY = "qualify.touchpoints_max_id"
RULES_KEY = "qualify.rules.last_good"
LAST_RUN_KEY = "qualify.last_run"


def needs_qualifying() -> sa.ColumnElement[bool]:
    """Live leads never qualified, or changed (``updated_at``) since they were."""
    return sa.and_(
        leads.c.merged_into_id.is_(None),
        leads.c.erased_at.is_(None),
        sa.or_(leads.c.qualified_at.is_(None), leads.c.updated_at > leads.c.qualified_at),
    )


def lead_batches(
    engine: sa.Engine, columns: Sequence[sa.ColumnElement], where: sa.ColumnElement[bool], size: int
) -> Iterator[tuple[sa.Connection, list[sa.Row]]]:
    """The leads ``where`` selects, in id order, ``size`` at a time, each batch in its own transaction.

    The caller's work on a batch (through the connection yielded with it) commits when it asks for
    the next one, so a failure keeps the batches before it. Stopping early rolls the current batch back.
    """
    last_id = 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                sa.select(*columns).where(where, leads.c.id > last_id).order_by(leads.c.id).limit(size)
            ).all()
            if not rows:
                return
            last_id = rows[-1].id
            yield conn, rows


def live_leads() -> sa.ColumnElement[bool]:
    return sa.and_(leads.c.merged_into_id.is_(None), leads.c.erased_at.is_(None))


def parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
