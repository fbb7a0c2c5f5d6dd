"""What sales tells marketing: a rep accepts or rejects a handed-off lead.

- Accept: the item becomes ``accepted`` (it still counts against the rep's capacity).
- Reject (with a reason of ``REJECT_REASONS``): the item is closed ``rejected``
  and the lead moves to ``recycled`` with the reason in ``lifecycle_history``.
  The lead's ``recycle_cooldown_until`` keeps scoring from making it an SQL again
  within ``recycle_cooldown_days`` unless it acts with high intent after the
  rejection (see ``funnelflow.qualify.lifecycle``).

The first action records whether the SLA was met (at or before ``due_at``).
Each action is recorded once: a second click on the same link changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from funnelflow.db.schema import REJECT_REASONS, leads, lifecycle_history, sales_queue
from funnelflow.sales import queue

# What reps and the weekly report call each reason of REJECT_REASONS.
REJECT_REASON_LABELS = {
    "not_a_fit": "Not a fit",
    "no_budget": "No budget",
    "bad_contact_data": "Bad contact data",
    "duplicate": "Duplicate",
    "competitor": "Competitor",
    "other": "Other",
}


@dataclass(frozen=True)
class Outcome:
    status: str  # done, already (acted on before), unknown, invalid_reason


def _sla_outcome(item: dict, at: datetime) -> str:
    if item["sla_outcome"]:
        return item["sla_outcome"]
    return "met" if item["due_at"] is None or at <= item["due_at"] else "breached"


def _item(conn: sa.Connection, item_id: int) -> dict | None:
    row = conn.execute(sa.select(sales_queue).where(sales_queue.c.id == item_id)).mappings().first()
    return dict(row) if row else None


def accept(engine: sa.Engine, item_id: int, *, at: datetime, actor: str) -> Outcome:
    with engine.begin() as conn:
        item = _item(conn, item_id)
        if item is None:
            return Outcome("unknown")
        values = {
            "status": "accepted",
            "first_action_at": item["first_action_at"] or at,
            "sla_outcome": _sla_outcome(item, at),
        }
        done = queue.set_status(
            conn, item_id, actor=actor, action="accepted", at=at, expect=("open",), values=values
        )
        return Outcome("done" if done else "already")


def reject(
    engine: sa.Engine,
    item_id: int,
    reason: str,
    *,
    at: datetime,
    actor: str,
    cooldown_days: int,
    note: str | None = None,
) -> Outcome:
    """Close the item as rejected and recycle the lead (if it is still at SQL) with the cooldown."""
    if reason not in REJECT_REASONS:
        return Outcome("invalid_reason")
    with engine.begin() as conn:
        item = _item(conn, item_id)
        if item is None:
            return Outcome("unknown")
        values = {
            "status": "rejected",
            "outcome_reason": reason,
            "closed_at": at,
            "first_action_at": item["first_action_at"] or at,
            "sla_outcome": _sla_outcome(item, at),
        }
        detail = {"reason": reason} | ({"note": note[:500]} if note else {})
        done = queue.set_status(
            conn,
            item_id,
            actor=actor,
            action="rejected",
            at=at,
            expect=("open", "accepted"),
            values=values,
            detail=detail,
        )
        if not done:
            return Outcome("already")
        recycled = conn.execute(
            leads.update()
            .where(leads.c.id == item["lead_id"], leads.c.lifecycle_stage == "sql")
            .values(
                lifecycle_stage="recycled",
                lifecycle_changed_at=at,
                sales_recycled_at=at,
                recycle_cooldown_until=at + timedelta(days=cooldown_days),
                mql_since=None,
                below_threshold_since=None,
            )
        ).rowcount
        if recycled:
            conn.execute(
                lifecycle_history.insert().values(
                    lead_id=item["lead_id"],
                    from_stage="sql",
                    to_stage="recycled",
                    changed_at=at,
                    reason=f"sales_rejected:{reason} ({actor}, item {item_id})",
                )
            )
        return Outcome("done")
