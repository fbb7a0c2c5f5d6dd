"""Routing: which rep gets a sales-qualified lead, exactly as the README states it, so sales can predict it.

A rep is *eligible* when active, not out of office (``to`` inclusive), not on a
holiday of their calendar on the day of assignment in their own zone, and under
capacity (items ``open`` or ``accepted``). The steps of ``routing`` are tried in
order; the first step with at least one eligible rep decides:

- ``account_owner``: the owner of the lead's account, if eligible;
- ``country_segment_industry``, ``country_segment``, ``country``: reps whose lists
  match the lead's country, its account's segment (from ``employee_band``) and
  industry, as named; case-insensitive; an empty list matches anything, and a lead
  with no value for a dimension does not match a non-empty list;
- ``any``: every eligible rep.

Within the deciding step: fewest open items, then the oldest last assignment
(never assigned is oldest; within one run, assigned earlier is older), then rep
id. Leads go one at a time in the order they became SQL (then lead id), each
assignment counting toward the next one's load. The first assignment of an
account makes its rep the owner, so the account's later leads follow.

``Router`` is the rule over plain data; ``route`` runs it against the database
under the routing lock (``queue.lock_routing``), so two overlapping runs never
exceed a capacity.
"""

from __future__ import annotations

import heapq
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from funnelflow.db.schema import UTCDateTime, accounts, leads, lifecycle_history, sales_queue
from funnelflow.sales import queue
from funnelflow.sales.hours import add_business_hours, to_utc
from funnelflow.sales.team import Rep, SalesTeam

log = logging.getLogger(__name__)

_DIMENSIONS = {
    "country_segment_industry": ("country", "segment", "industry"),
    "country_segment": ("country", "segment"),
    "country": ("country",),
    "any": (),
}
_NEVER = float("-inf")


@dataclass(frozen=True)
class LeadFacts:
    """What routing looks at for one lead."""

    lead_id: int
    account_id: int | None = None
    country: str | None = None
    segment: str | None = None
    industry: str | None = None


@dataclass(frozen=True)
class Decision:
    rep_id: str | None
    reason: str  # the deciding step, or why nobody could take the lead


def _norm(value: str | None) -> str | None:
    value = (value or "").strip().lower()
    return value or None


def rep_matches(rep: Rep, step: str, lead: LeadFacts) -> bool:
    """Whether a rep's lists match the lead on the dimensions the step names."""
    lists = {"country": rep.countries, "segment": rep.segments, "industry": rep.industries}
    for dim in _DIMENSIONS[step]:
        wanted = lists[dim]
        if not wanted:
            continue
        value = _norm(getattr(lead, dim))
        if value is None or value not in {w.lower() for w in wanted}:
            return False
    return True


def unavailable_reason(team: SalesTeam, rep: Rep, as_of: datetime) -> str | None:
    """Why a rep cannot take anything today (in their own zone), capacity aside; None when available."""
    if not rep.active:
        return "inactive"
    day = as_of.astimezone(rep.zone).date()
    if rep.away_on(day):
        return "out_of_office"
    if day in team.holidays_of(rep):
        return "holiday"
    return None


@dataclass
class Router:
    """The routing rule over plain data, with the loads it has added in this run."""

    team: SalesTeam
    as_of: datetime
    loads: dict[str, int] = field(default_factory=dict)
    last_assigned: dict[str, datetime] = field(default_factory=dict)
    owners: dict[int, str | None] = field(default_factory=dict)  # account id -> owner rep id

    def __post_init__(self) -> None:
        self.reps = {r.id: r for r in self.team.reps}
        self.why_unavailable = {r.id: unavailable_reason(self.team, r, self.as_of) for r in self.team.reps}
        self.available = [r for r in self.team.reps if self.why_unavailable[r.id] is None]
        self.load = {r.id: self.loads.get(r.id, 0) for r in self.team.reps}
        self.last = {
            r.id: (self.last_assigned[r.id].timestamp(), 0) if r.id in self.last_assigned else (_NEVER, 0)
            for r in self.team.reps
        }
        self._seq = 0
        self._heaps: dict[tuple, list] = {}

    def eligible(self, rep_id: str | None) -> bool:
        rep = self.reps.get(rep_id or "")
        return rep is not None and self.why_unavailable[rep.id] is None and self.load[rep.id] < rep.capacity

    def _best(self, step: str, lead: LeadFacts, norm: dict[str, str | None]) -> str | None:
        """The eligible rep of this step with the fewest open items, oldest last assignment, lowest id.

        One heap per (step, lead dimensions); loads and last assignments only grow
        within a run, so an entry with an out-of-date key is refreshed when it
        reaches the top, and a rep at capacity leaves the heap for good.
        """
        key = (step, *[norm[d] for d in _DIMENSIONS[step]])
        heap = self._heaps.get(key)
        if heap is None:
            heap = [
                (self.load[r.id], self.last[r.id], r.id) for r in self.available if rep_matches(r, step, lead)
            ]
            heapq.heapify(heap)
            self._heaps[key] = heap
        while heap:
            load, last, rep_id = heap[0]
            if self.load[rep_id] >= self.reps[rep_id].capacity:
                heapq.heappop(heap)
            elif (load, last) != (self.load[rep_id], self.last[rep_id]):
                heapq.heapreplace(heap, (self.load[rep_id], self.last[rep_id], rep_id))
            else:
                return rep_id
        return None

    def decide(self, lead: LeadFacts) -> Decision:
        norm: dict[str, str | None] | None = None
        for step in self.team.routing:
            if step == "account_owner":
                owner = self.owners.get(lead.account_id) if lead.account_id is not None else None
                if self.eligible(owner):
                    return Decision(owner, step)
                continue
            if norm is None:  # the lead's dimensions, normalized once per decision
                norm = {"country": _norm(lead.country), "segment": _norm(lead.segment)}
                norm["industry"] = _norm(lead.industry)
            rep_id = self._best(step, lead, norm)
            if rep_id is not None:
                return Decision(rep_id, step)
        return Decision(None, self.nobody_reason())

    def decide_excluding(self, lead: LeadFacts, rep_id: str | None) -> Decision:
        """The decision with one rep left out (reassignment after a breach never returns to the same rep)."""
        if rep_id is None or rep_id not in self.why_unavailable:
            return self.decide(lead)
        saved = self.why_unavailable[rep_id]
        self.why_unavailable[rep_id] = "excluded"
        self._heaps.clear()  # the heaps were built from the available reps
        self.available = [r for r in self.team.reps if self.why_unavailable[r.id] is None]
        try:
            return self.decide(lead)
        finally:
            self.why_unavailable[rep_id] = saved
            self.available = [r for r in self.team.reps if self.why_unavailable[r.id] is None]
            self._heaps.clear()

    def nobody_reason(self) -> str:
        counts = Counter(self.why_unavailable[r.id] or "at_capacity" for r in self.team.reps)
        parts = ", ".join(f"{n} {why}" for why, n in sorted(counts.items()))
        return f"no eligible rep ({parts}; steps {'/'.join(self.team.routing)})"

    def assign(self, lead: LeadFacts, rep_id: str) -> None:
        """Count an assignment toward the next decision, and make the rep the owner of an unowned account."""
        self._seq += 1
        self.load[rep_id] += 1
        self.last[rep_id] = (self.as_of.timestamp(), self._seq)
        if lead.account_id is not None and not self.owners.get(lead.account_id):
            self.owners[lead.account_id] = rep_id

    def route(self, lead: LeadFacts) -> Decision:
        decision = self.decide(lead)
        if decision.rep_id is not None:
            self.assign(lead, decision.rep_id)
        return decision


# --- against the database -----------------------------------------------------------------


@dataclass
class RouteResult:
    as_of: datetime
    queued: int = 0  # new items (a lead's new SQL entry)
    assigned: int = 0
    unassigned: int = 0  # items still waiting for a rep after this run
    closed: int = 0  # unassigned items whose lead left SQL
    by_step: Counter = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "queued": self.queued,
            "assigned": self.assigned,
            "unassigned": self.unassigned,
            "closed": self.closed,
            "by_step": dict(self.by_step),
        }


@dataclass(frozen=True)
class Deadlines:
    due_at: datetime
    remind_at: datetime
    reassign_at: datetime


def deadlines(team: SalesTeam, rep: Rep, grade: str | None, assigned_at: datetime) -> Deadlines:
    """Due (the grade's SLA; D's without a grade), reminder at half time, reassignment after the breach."""
    cal = queue.calendar_of(team, rep)
    hours = team.sla_business_hours[grade if grade in team.sla_business_hours else "D"]
    due = add_business_hours(cal, assigned_at, hours)
    return Deadlines(
        due_at=due,
        remind_at=add_business_hours(cal, assigned_at, hours / 2),
        reassign_at=add_business_hours(cal, due, team.reassign_after_business_hours),
    )


def entry_key_sql(lead_id: sa.ColumnElement, history_id: sa.ColumnElement) -> sa.ColumnElement:
    return sa.literal("sql:") + sa.cast(lead_id, sa.String) + sa.literal(":") + sa.cast(history_id, sa.String)


def _new_entries(conn: sa.Connection) -> list[dict[str, Any]]:
    """Live leads at SQL whose latest SQL entry has no queue item (the first run takes every such lead)."""
    h = lifecycle_history
    at_sql = sa.and_(
        leads.c.lifecycle_stage == "sql", leads.c.merged_into_id.is_(None), leads.c.erased_at.is_(None)
    )
    latest = (
        sa.select(h.c.lead_id, sa.func.max(h.c.id).label("hid"))
        .where(h.c.to_stage == "sql", h.c.lead_id.in_(sa.select(leads.c.id).where(at_sql)))
        .group_by(h.c.lead_id)
        .subquery("latest")
    )
    entered = h.alias("entered")
    hid = sa.func.coalesce(latest.c.hid, 0)
    key = entry_key_sql(leads.c.id, hid)
    entered_at = sa.func.coalesce(entered.c.changed_at, leads.c.lifecycle_changed_at, leads.c.created_at)
    stmt = (
        sa.select(
            leads.c.id.label("lead_id"),
            key.label("entry_key"),
            sa.type_coerce(entered_at, UTCDateTime()).label("entered_at"),
            leads.c.account_id,
            leads.c.fit_grade,
            sa.func.coalesce(leads.c.country, accounts.c.country).label("country"),
            accounts.c.employee_band,
            accounts.c.industry,
            accounts.c.owner_rep_id.label("account_owner"),
        )
        .select_from(
            leads.outerjoin(latest, latest.c.lead_id == leads.c.id)
            .outerjoin(entered, entered.c.id == latest.c.hid)
            .outerjoin(accounts, accounts.c.id == leads.c.account_id)
        )
        .where(at_sql, ~sa.exists().where(sales_queue.c.entry_key == key))
    )
    result = conn.execute(stmt)
    names = list(result.keys())
    return [dict(zip(names, r, strict=True)) for r in result.all()]


def _waiting_items(conn: sa.Connection) -> list[dict[str, Any]]:
    """Unassigned items (handoffs and call-backs), with their lead's facts and whether it is still live at
    SQL.
    """
    q = sales_queue
    stmt = (
        sa.select(
            q.c.id.label("item_id"),
            q.c.kind,
            q.c.entry_key,
            q.c.entered_at,
            q.c.lead_id,
            leads.c.lifecycle_stage,
            leads.c.merged_into_id,
            leads.c.erased_at,
            leads.c.account_id,
            leads.c.fit_grade,
            sa.func.coalesce(leads.c.country, accounts.c.country).label("country"),
            accounts.c.employee_band,
            accounts.c.industry,
            accounts.c.owner_rep_id.label("account_owner"),
        )
        .select_from(
            q.join(leads, leads.c.id == q.c.lead_id).outerjoin(accounts, accounts.c.id == leads.c.account_id)
        )
        .where(q.c.status == "unassigned")
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def _owners(conn: sa.Connection, rows: list[dict[str, Any]]) -> dict[int, str | None]:
    """Account id -> owner rep, from the rows (``account_owner``) or, for rows without it, the database."""
    owners: dict[int, str | None] = {
        r["account_id"]: r["account_owner"]
        for r in rows
        if r["account_id"] is not None and "account_owner" in r
    }
    ids = sorted({r["account_id"] for r in rows if r["account_id"] is not None and "account_owner" not in r})
    for i in range(0, len(ids), 5000):
        owners.update(
            conn.execute(
                sa.select(accounts.c.id, accounts.c.owner_rep_id).where(accounts.c.id.in_(ids[i : i + 5000]))
            ).all()
        )
    return owners


def _facts(team: SalesTeam, row: dict[str, Any], segments: dict[str | None, str | None]) -> LeadFacts:
    band = row["employee_band"]
    if band not in segments:
        segments[band] = team.segment_of(band)
    return LeadFacts(row["lead_id"], row["account_id"], row["country"], segments[band], row["industry"])


def route(engine: sa.Engine, team: SalesTeam, *, as_of: datetime, run_id: str | None = None) -> RouteResult:
    """Queue every new SQL entry once and assign it (or leave it unassigned with the reason); one
    transaction.
    """
    as_of = to_utc(as_of)  # raises on a naive time; Airflow's pendulum times become plain datetimes
    result = RouteResult(as_of)
    with engine.begin() as conn:
        queue.lock_routing(conn)
        queue.sync_reps(conn, team, as_of)
        new = _new_entries(conn)
        waiting = _waiting_items(conn)
        gone = [
            w
            for w in waiting
            if w["merged_into_id"]
            or w["erased_at"]
            or (w["kind"] == "handoff" and w["lifecycle_stage"] != "sql")
        ]
        gone_ids = {w["item_id"] for w in gone}
        waiting = [w for w in waiting if w["item_id"] not in gone_ids]
        for w in gone:
            queue.set_status(
                conn,
                w["item_id"],
                actor="routing",
                action="closed",
                at=as_of,
                expect=("unassigned",),
                values={"status": "closed", "closed_at": as_of, "outcome_reason": "left_sql"},
                run_id=run_id,
            )
        result.closed = len(gone)
        route_rows(conn, team, new + waiting, as_of=as_of, run_id=run_id, result=result)
    log.info("routing as of %s: %s", as_of.isoformat(), result.summary())
    return result


def route_rows(
    conn: sa.Connection,
    team: SalesTeam,
    rows: list[dict[str, Any]],
    *,
    as_of: datetime,
    run_id: str | None,
    result: RouteResult,
) -> None:
    """Assign each row (a new entry, or an ``item_id`` still unassigned) in order; call under
    ``lock_routing``.

    A row carries ``entry_key``, ``lead_id``, ``entered_at``, ``fit_grade``, the lead's
    ``account_id``, ``country``, ``employee_band`` and ``industry``, and ``kind``
    (default ``handoff``) for new entries.
    """
    todo = sorted(rows, key=lambda r: (r["entered_at"], r["lead_id"], r["entry_key"]))
    router = Router(
        team,
        as_of,
        *queue.rep_stats(conn),
        owners=_owners(conn, todo),
    )
    owners_before = dict(router.owners)
    deadline_memo: dict[tuple[str, str | None], int] = {}  # (rep, grade) -> index into deadline_sets
    deadline_sets: list[tuple[datetime, datetime, datetime, datetime]] = []
    new_rows: list[tuple] = []
    updates: list[dict[str, Any]] = []
    lead_owners: dict[int, str] = {}  # leads without an account: the rep of their latest assignment
    segments: dict[str | None, str | None] = {}  # employee band -> segment
    for row in todo:
        decision = router.route(_facts(team, row, segments))
        rep_id, grade, times = decision.rep_id, row["fit_grade"], None
        if rep_id is not None:
            times = deadline_memo.get((rep_id, grade))
            if times is None:
                d = deadlines(team, router.reps[rep_id], grade, as_of)
                times = deadline_memo[(rep_id, grade)] = len(deadline_sets)
                deadline_sets.append((as_of, d.due_at, d.remind_at, d.reassign_at))
            result.assigned += 1
            result.by_step[decision.reason] += 1
            if row["account_id"] is None:
                lead_owners[row["lead_id"]] = rep_id
        else:
            result.unassigned += 1
        if "item_id" in row:
            if rep_id is not None:
                assigned_at, due_at, remind_at, reassign_at = deadline_sets[times]
                updates.append(
                    {
                        "item_id": row["item_id"],
                        "status": "open",
                        "rep_id": rep_id,
                        "routing_reason": decision.reason,
                        "assigned_at": assigned_at,
                        "due_at": due_at,
                        "remind_at": remind_at,
                        "reassign_at": reassign_at,
                    }
                )
        else:  # in queue.STAGE_NAMES order
            new_rows.append(
                (
                    row["entry_key"],
                    row["lead_id"],
                    row.get("kind", "handoff"),
                    queue.PRIORITY.get(grade or "D", 4),
                    grade,
                    row["entered_at"],
                    "unassigned" if rep_id is None else "open",
                    rep_id,
                    decision.reason,
                    times,
                    len(new_rows),
                )
            )
    result.queued = queue.insert_items(
        conn, new_rows, deadline_sets, at=as_of, actor="routing", run_id=run_id
    )
    changes = []
    for u in updates:
        item_id = u.pop("item_id")
        conn.execute(
            sales_queue.update()
            .where(sales_queue.c.id == item_id, sales_queue.c.status == "unassigned")
            .values(**u)
        )
        changes.append(
            queue.Change(
                item_id,
                "assigned",
                "routing",
                as_of,
                "unassigned",
                "open",
                u["rep_id"],
                {"reason": u["routing_reason"]},
                run_id,
            )
        )
    queue.record(conn, changes)
    queue.set_lead_owners(conn, lead_owners)
    _write_owners(conn, router.owners, owners_before)


def _write_owners(conn: sa.Connection, owners: dict[int, str | None], before: dict[int, str | None]) -> None:
    """Accounts without an owner get the rep of their first assignment."""
    new_owners = [{"id": a, "rep_id": r} for a, r in owners.items() if r and not before.get(a)]
    if new_owners:
        t = queue.stage_rows(
            conn, "sq_owner", (("id", sa.BigInteger()), ("rep_id", sa.String(60))), new_owners
        )
        conn.execute(
            accounts.update()
            .where(accounts.c.id == t.c.id, accounts.c.owner_rep_id.is_(None))
            .values(owner_rep_id=t.c.rep_id)
        )
        t.drop(conn)
