"""The sales queue and its history: the one module that writes ``sales_queue``, ``sales_queue_history`` and
``reps``.

Every change of an item is one append-only history row (who, what, when), in
the transaction of the change. Routing, the SLA sweep, rep feedback, CTI and
retention call the functions here instead of writing the tables themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from funnelflow.db.schema import (
    REJECT_REASONS,
    UTCDateTime,
    email_sends,
    leads,
    reps,
    sales_queue,
    sales_queue_history,
)
from funnelflow.sales.hours import Calendar
from funnelflow.sales.team import Rep, SalesTeam

OPEN_STATUSES = ("open", "accepted")  # what counts against a rep's capacity
ROUTING_LOCK_ID = (
    0x66_66_73_61_6C_65_73  # "ffsales": the PostgreSQL advisory lock of routing and reassignment
)
PRIORITY = {"A": 1, "B": 2, "C": 3, "D": 4}


def lock_routing(conn: sa.Connection) -> None:
    """Serialize everything that assigns reps, so two overlapping runs never exceed a capacity.

    PostgreSQL: a transaction-level advisory lock. SQLite has one writer at a
    time: a write as the first statement takes the database's write lock for the
    whole transaction (reads before it would run outside the transaction).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("select pg_advisory_xact_lock(:k)"), {"k": ROUTING_LOCK_ID})
    else:
        conn.execute(sa.text("update reps set id = id where 1 = 0"))


def set_lead_owners(conn: sa.Connection, owners: dict[int, str]) -> None:
    """``leads.owner_rep_id`` of leads without an account: the rep of their latest assignment.

    A lead with an account is owned through it (``accounts.owner_rep_id``, set by routing), so
    100,000 handoffs do not rewrite 100,000 lead rows. Set-based (one staged update);
    ``updated_at`` is left alone, so a new owner does not make qualification score the lead again.
    """
    if not owners:
        return
    rows = [{"id": lead_id, "rep_id": rep_id} for lead_id, rep_id in owners.items()]
    t = stage_rows(conn, "sq_lead_owner", (("id", sa.BigInteger()), ("rep_id", sa.String(60))), rows)
    conn.execute(
        leads.update()
        .where(
            leads.c.id == t.c.id,
            leads.c.account_id.is_(None),
            leads.c.owner_rep_id.is_distinct_from(t.c.rep_id),
        )
        .values(owner_rep_id=t.c.rep_id, updated_at=leads.c.updated_at)
    )
    t.drop(conn)


def calendar_of(team: SalesTeam, rep: Rep) -> Calendar:
    bh = team.business_hours
    return Calendar(rep.zone, bh.opens, bh.closes, bh.weekdays, team.holidays_of(rep))


def sync_reps(conn: sa.Connection, team: SalesTeam, at: datetime) -> None:
    """Make the ``reps`` table say what the team file says; reps gone from the file stay, inactive."""
    managers = {t.name: t.manager for t in team.teams}
    existing = {r["id"]: r for r in conn.execute(sa.select(reps)).mappings()}
    inserts: list[dict[str, Any]] = []
    for rep in team.reps:
        row = {
            "name": rep.name,
            "email": rep.email,
            "team": rep.team,
            "manager_id": managers.get(rep.team),
            "timezone": rep.timezone,
            "calendar": rep.calendar,
            "capacity": rep.capacity,
            "active": rep.active,
            "in_team_file": True,
            "profile": {
                "countries": rep.countries,
                "segments": rep.segments,
                "industries": rep.industries,
                "out_of_office": [
                    {"from": a.from_.isoformat(), "to": a.to.isoformat()} for a in rep.out_of_office
                ],
            },
        }
        old = existing.get(rep.id)
        if old is None:
            inserts.append({"id": rep.id, "synced_at": at, **row})
        elif any(old[k] != v for k, v in row.items()):
            conn.execute(reps.update().where(reps.c.id == rep.id).values(synced_at=at, **row))
    if inserts:
        conn.execute(reps.insert(), inserts)
    gone = [rid for rid, r in existing.items() if r["in_team_file"] and team.rep(rid) is None]
    if gone:
        conn.execute(
            reps.update().where(reps.c.id.in_(gone)).values(in_team_file=False, active=False, synced_at=at)
        )


def rep_stats(conn: sa.Connection) -> tuple[dict[str, int], dict[str, datetime]]:
    """Per rep, in one pass: open items (open or accepted) and the last assignment time."""
    q = sales_queue
    rows = conn.execute(
        sa.select(
            q.c.rep_id,
            sa.func.count().filter(q.c.status.in_(OPEN_STATUSES)),
            sa.func.max(
                q.c.assigned_at
            ),  # max() keeps the column's type: aware UTC datetimes on both backends
        )
        .where(q.c.rep_id.is_not(None))
        .group_by(q.c.rep_id)
    ).all()
    return {r: n for r, n, _ in rows if n}, {r: t for r, _, t in rows if t is not None}


@dataclass(frozen=True)
class Change:
    """One history row: what happened to an item, by whom."""

    item_id: int
    action: str
    actor: str
    at: datetime
    from_status: str | None = None
    to_status: str | None = None
    rep_id: str | None = None
    detail: dict[str, Any] | None = None
    run_id: str | None = None


def record(conn: sa.Connection, changes: Iterable[Change]) -> None:
    rows = [
        {
            "item_id": c.item_id,
            "at": c.at,
            "actor": c.actor,
            "action": c.action,
            "from_status": c.from_status,
            "to_status": c.to_status,
            "rep_id": c.rep_id,
            "detail": c.detail,
            "run_id": c.run_id,
        }
        for c in changes
    ]
    for i in range(0, len(rows), 10_000):
        conn.execute(sales_queue_history.insert(), rows[i : i + 10_000])


_STAGE_COLUMNS = (
    ("entry_key", sa.String(120)),
    ("lead_id", sa.BigInteger()),
    ("kind", sa.String(20)),
    ("priority", sa.Integer()),
    ("fit_grade", sa.String(1)),
    ("entered_at", UTCDateTime()),
    ("status", sa.String(20)),
    ("rep_id", sa.String(60)),
    ("routing_reason", sa.String(255)),
    ("deadlines", sa.Integer()),  # index into the run's deadlines (one set per rep and grade), null: none
    ("seq", sa.Integer()),  # the routing order: item ids follow it
)
STAGE_NAMES = tuple(c for c, _ in _STAGE_COLUMNS)  # the order of a new item's tuple for ``insert_items``
_DEADLINE_COLUMNS = (
    ("id", sa.Integer()),
    ("assigned_at", UTCDateTime()),
    ("due_at", UTCDateTime()),
    ("remind_at", UTCDateTime()),
    ("reassign_at", UTCDateTime()),
)


def stage_rows(
    conn: sa.Connection, name: str, columns: Sequence[tuple[str, Any]], rows: Sequence[dict | tuple]
) -> sa.Table:
    """A temporary table filled with ``rows`` (COPY on PostgreSQL, executemany on SQLite), for set-based
    writes.
    """
    table = sa.Table(name, sa.MetaData(), *[sa.Column(c, t) for c, t in columns], prefixes=["TEMPORARY"])
    table.drop(conn, checkfirst=True)
    table.create(conn)
    if not rows:
        return table
    names = [c for c, _ in columns]
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f"copy {name} ({', '.join(names)}) from stdin") as copy:
            for row in rows:
                copy.write_row(row if isinstance(row, tuple) else [row[c] for c in names])
    else:
        conn.execute(
            table.insert(),
            [dict(zip(names, row, strict=True)) if isinstance(row, tuple) else row for row in rows],
        )
    return table


def insert_items(
    conn: sa.Connection,
    rows: Sequence[tuple],
    deadlines: Sequence[tuple[datetime, datetime, datetime, datetime]],
    *,
    at: datetime,
    actor: str,
    run_id: str | None,
) -> int:
    """Insert new items (entry keys already queued are skipped) with one history row each; set-based.

    ``rows``: tuples in ``STAGE_NAMES`` order; their ``deadlines`` index into ``deadlines``
    (assigned, due, remind, reassign), which a run shares per rep and grade: the rows stay
    narrow. Call under ``lock_routing`` (the check for known keys and the insert must not
    interleave).
    """
    if not rows:
        return 0
    stage = stage_rows(conn, "sq_stage", _STAGE_COLUMNS, rows)
    times = stage_rows(conn, "sq_deadlines", _DEADLINE_COLUMNS, [(i, *d) for i, d in enumerate(deadlines)])
    q = sales_queue
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"analyze {stage.name}")  # a temp table has no statistics until analyzed
    conn.execute(stage.delete().where(sa.exists().where(q.c.entry_key == stage.c.entry_key)))
    names = [c for c in STAGE_NAMES if c not in ("deadlines", "seq")]
    when = [c for c, _ in _DEADLINE_COLUMNS[1:]]
    at_p = sa.bindparam("at", at, type_=UTCDateTime())
    inserted = conn.execute(sa.select(sa.func.count()).select_from(stage)).scalar_one()
    conn.execute(
        q.insert().from_select(
            [*names, *when, "created_at"],
            sa.select(*[stage.c[c] for c in names], *[times.c[c] for c in when], at_p)
            .select_from(stage.outerjoin(times, times.c.id == stage.c.deadlines))
            .order_by(stage.c.seq),
        )
    )
    times.drop(conn)
    build = sa.func.jsonb_build_object if conn.dialect.name == "postgresql" else sa.func.json_object
    conn.execute(
        sales_queue_history.insert().from_select(
            ["item_id", "at", "actor", "action", "from_status", "to_status", "rep_id", "detail", "run_id"],
            sa.select(
                q.c.id,
                at_p,
                sa.literal(actor),
                sa.case((q.c.rep_id.is_(None), "unassigned"), else_="assigned"),
                sa.null(),
                q.c.status,
                q.c.rep_id,
                build("reason", q.c.routing_reason),
                sa.literal(run_id, sa.String),
            ).select_from(q.join(stage, stage.c.entry_key == q.c.entry_key)),
        )
    )
    stage.drop(conn)
    return inserted


def set_status(
    conn: sa.Connection,
    item_id: int,
    *,
    actor: str,
    action: str,
    at: datetime,
    expect: Sequence[str],
    values: dict[str, Any],
    detail: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> dict[str, Any] | None:
    """Change one item if its status is one of ``expect``; returns the item as it was, or None (nothing
    changed).
    """
    row = (
        conn.execute(sa.select(sales_queue).where(sales_queue.c.id == item_id).with_for_update())
        .mappings()
        .first()
    )
    if row is None or row["status"] not in expect:
        return None
    conn.execute(sales_queue.update().where(sales_queue.c.id == item_id).values(**values))
    record(
        conn,
        [
            Change(
                item_id,
                action,
                actor,
                at,
                row["status"],
                values.get("status", row["status"]),
                values.get("rep_id", row["rep_id"]),
                detail,
                run_id,
            )
        ],
    )
    return dict(row)


# --- erasure (called by funnelflow.privacy.forget) ------------------------------------------

SAFE_HISTORY_KEYS = frozenset({"reason", "from_rep", "status"})  # codes and rep ids, never free text
_CODED_OUTCOMES = frozenset({*REJECT_REASONS, "left_sql", "erased"})


def _coded_outcome(reason: str | None) -> bool:
    return reason is None or reason in _CODED_OUTCOMES or reason.startswith("opportunity:")


def forget_leads(conn: sa.Connection, lead_ids: Iterable[int], at: datetime) -> dict[str, int]:
    """The sales part of an erasure: nothing personal stays in the queue or its history.

    The person's waiting and open items are closed (``erased``; capacity frees up, nothing
    more is pushed or sent); free text goes: outcome reasons that are not codes, CRM
    errors and the CRM's record ids on the items, and every history detail but
    ``SAFE_HISTORY_KEYS`` (a rep's rejection note, for one). Statuses, reps, times and
    coded reasons stay, so the reports' counts do not move. Idempotent.
    """
    ids = sorted(set(lead_ids))
    if not ids:
        return {"sales_items": 0, "sales_history": 0}
    q, h = sales_queue, sales_queue_history
    items = conn.execute(
        sa.select(q.c.id, q.c.status, q.c.outcome_reason, q.c.crm_error, q.c.crm_external_id).where(
            q.c.lead_id.in_(ids)
        )
    ).all()
    changed = 0
    for item_id, status, outcome, crm_error, crm_id in items:
        values: dict[str, Any] = {}
        if status in (*OPEN_STATUSES, "unassigned"):
            values |= {"status": "closed", "closed_at": at, "outcome_reason": "erased"}
        elif not _coded_outcome(outcome):
            values["outcome_reason"] = None
        if crm_error is not None or crm_id is not None:
            values |= {"crm_error": None, "crm_external_id": None}
        if not values:
            continue
        changed += 1
        if "status" in values:
            set_status(
                conn,
                item_id,
                actor="privacy",
                action="closed",
                at=at,
                expect=(*OPEN_STATUSES, "unassigned"),
                values=values,
                detail={"reason": "erased"},
            )
        else:
            conn.execute(q.update().where(q.c.id == item_id).values(**values))
    scrubbed = 0
    if items:
        item_ids = [i.id for i in items]
        for i in range(0, len(item_ids), 900):
            rows = conn.execute(
                sa.select(h.c.id, h.c.detail).where(
                    h.c.item_id.in_(item_ids[i : i + 900]), h.c.detail.is_not(None)
                )
            ).all()
            for row_id, detail in rows:
                kept = (
                    {k: v for k, v in detail.items() if k in SAFE_HISTORY_KEYS}
                    if isinstance(detail, dict)
                    else {}
                )
                if kept != detail:
                    conn.execute(h.update().where(h.c.id == row_id).values(detail=kept or sa.null()))
                    scrubbed += 1
    return {"sales_items": changed, "sales_history": scrubbed}


def sends_about(conn: sa.Connection, lead_ids: Iterable[int]) -> set[int]:
    """Sends to reps and managers about the person's items: alerts, reminders, escalations.

    Found by their exact message keys (``funnelflow.sales.notify``): each item with every rep
    its history names.
    """
    q, h = sales_queue, sales_queue_history
    pairs = conn.execute(
        sa.select(q.c.id, h.c.rep_id)
        .select_from(q.outerjoin(h, h.c.item_id == q.c.id))
        .where(q.c.lead_id.in_(sorted(set(lead_ids))))
        .distinct()
    ).all()
    keys = {f"sales-escalation:{item_id}" for item_id, _ in pairs}
    keys |= {
        f"{kind}:{item_id}:{rep}"
        for item_id, rep in pairs
        if rep
        for kind in ("sales-alert", "sales-reminder")
    }
    found: set[int] = set()
    ordered = sorted(keys)
    for i in range(0, len(ordered), 900):
        found |= set(
            conn.execute(
                sa.select(email_sends.c.id).where(email_sends.c.message_key.in_(ordered[i : i + 900]))
            ).scalars()
        )
    return found
