"""The SLA sweep: a reminder at half time, escalation to the team's manager at the breach, reassignment after
more.

For open items nobody has acted on (``first_action_at`` is null), as of the
run's time:

- ``remind_at`` passed (and not yet due): ``reminded_at`` is set; the rep gets a reminder.
- ``due_at`` passed: ``escalated_at`` is set and the item is ``breached``; the
  manager of the rep's team gets an escalation.
- ``reassign_at`` passed (``reassign_after_business_hours`` after the breach):
  the item goes to the next eligible rep by the routing rules (never the same
  rep), with fresh deadlines; with nobody eligible it stays where it is.

Reminders and escalations are set-based statements (one history row per item,
written from the same condition), so a sweep over 100,000 items is a few
statements; each is done once, so a rerun changes nothing. Met or breached is
recorded when the rep first acts (``feedback``) or at the breach, whichever is first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from funnelflow.db.schema import UTCDateTime, accounts, leads, reps, sales_queue, sales_queue_history
from funnelflow.sales import queue
from funnelflow.sales.hours import to_utc
from funnelflow.sales.routing import LeadFacts, Router, deadlines
from funnelflow.sales.team import SalesTeam

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    as_of: datetime
    reminded: int = 0
    escalated: int = 0
    reassigned: list[int] = field(default_factory=list)
    reassign_waiting: int = 0  # due for reassignment, nobody else eligible

    def summary(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "reminded": self.reminded,
            "escalated": self.escalated,
            "reassigned": len(self.reassigned),
            "reassign_waiting": self.reassign_waiting,
        }


def _untouched() -> sa.ColumnElement[bool]:
    return sa.and_(sales_queue.c.status == "open", sales_queue.c.first_action_at.is_(None))


def _mark(
    conn: sa.Connection, where: sa.ColumnElement[bool], action: str, values: dict[str, Any], at, run_id
) -> int:
    """Set ``values`` on the items matching ``where``, with one history row each; returns how many.

    Two set-based statements under the routing lock: the history rows from the condition, then
    the update (which makes the condition false, so a rerun adds nothing).
    """
    q = sales_queue
    at_p = sa.bindparam("at", at, type_=UTCDateTime())
    conn.execute(
        sales_queue_history.insert().from_select(
            ["item_id", "at", "actor", "action", "from_status", "to_status", "rep_id", "run_id"],
            sa.select(
                q.c.id,
                at_p,
                sa.literal("sla"),
                sa.literal(action),
                q.c.status,
                q.c.status,
                q.c.rep_id,
                sa.literal(run_id, sa.String),
            ).where(where),
        )
    )
    return conn.execute(q.update().where(where).values(**values)).rowcount


def sweep(engine: sa.Engine, team: SalesTeam, *, as_of: datetime, run_id: str | None = None) -> SweepResult:
    """Remind, escalate and reassign as of the run's time; one transaction; a rerun does nothing more."""
    as_of = to_utc(as_of)  # raises on a naive time; Airflow's pendulum times become plain datetimes
    q = sales_queue
    at = sa.bindparam("as_of", as_of, type_=UTCDateTime())
    result = SweepResult(as_of)
    with engine.begin() as conn:
        queue.lock_routing(conn)
        queue.sync_reps(conn, team, as_of)
        result.reminded = _mark(
            conn,
            sa.and_(_untouched(), q.c.reminded_at.is_(None), q.c.remind_at <= at, q.c.due_at > at),
            "reminded",
            {"reminded_at": as_of},
            as_of,
            run_id,
        )
        result.escalated = _mark(
            conn,
            sa.and_(_untouched(), q.c.escalated_at.is_(None), q.c.due_at <= at),
            "escalated",
            {"escalated_at": as_of, "sla_outcome": "breached"},
            as_of,
            run_id,
        )
        _reassign(conn, team, as_of, run_id, result)
    log.info("SLA sweep: %s", result.summary())
    return result


def _reassign(
    conn: sa.Connection, team: SalesTeam, as_of: datetime, run_id: str | None, result: SweepResult
) -> None:
    q = sales_queue
    at = sa.bindparam("as_of", as_of, type_=UTCDateTime())
    due = (
        conn.execute(
            sa.select(
                q.c.id,
                q.c.rep_id,
                q.c.lead_id,
                q.c.fit_grade,
                leads.c.account_id,
                sa.func.coalesce(leads.c.country, accounts.c.country).label("country"),
                accounts.c.employee_band,
                accounts.c.industry,
                accounts.c.owner_rep_id,
            )
            .select_from(
                q.join(leads, leads.c.id == q.c.lead_id).outerjoin(
                    accounts, accounts.c.id == leads.c.account_id
                )
            )
            .where(_untouched(), q.c.reassign_at <= at)
            .order_by(q.c.due_at, q.c.id)
        )
        .mappings()
        .all()
    )
    if not due:
        return
    router = Router(
        team,
        as_of,
        *queue.rep_stats(conn),
        owners={r["account_id"]: r["owner_rep_id"] for r in due if r["account_id"] is not None},
    )
    changes = []
    lead_owners: dict[int, str] = {}
    for row in due:
        facts = LeadFacts(
            lead_id=row["lead_id"],
            account_id=row["account_id"],
            country=row["country"],
            segment=team.segment_of(row["employee_band"]),
            industry=row["industry"],
        )
        decision = router.decide_excluding(facts, row["rep_id"])
        if decision.rep_id is None:
            result.reassign_waiting += 1
            continue
        router.assign(facts, decision.rep_id)
        if row["rep_id"] in router.load:  # the item leaves the old rep (heaps are rebuilt per reassignment)
            router.load[row["rep_id"]] -= 1
        d = deadlines(team, router.reps[decision.rep_id], row["fit_grade"], as_of)
        conn.execute(
            q.update()
            .where(q.c.id == row["id"])
            .values(
                rep_id=decision.rep_id,
                routing_reason=f"reassigned:{decision.reason}",
                assigned_at=as_of,
                due_at=d.due_at,
                remind_at=d.remind_at,
                reassign_at=d.reassign_at,
                reminded_at=None,
                escalated_at=None,
            )
        )
        changes.append(
            queue.Change(
                row["id"],
                "reassigned",
                "sla",
                as_of,
                "open",
                "open",
                decision.rep_id,
                {"from_rep": row["rep_id"], "reason": decision.reason},
                run_id,
            )
        )
        result.reassigned.append(row["id"])
        if row["account_id"] is None:
            lead_owners[row["lead_id"]] = decision.rep_id
    queue.record(conn, changes)
    queue.set_lead_owners(conn, lead_owners)


def manager_of(conn: sa.Connection, rep_id: str) -> str | None:
    return conn.execute(sa.select(reps.c.manager_id).where(reps.c.id == rep_id)).scalar_one_or_none()
