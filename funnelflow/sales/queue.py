"""The sales queue and its history: the one module that writes ``sales_queue``, ``sales_queue_history`` and ``reps``.

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

from funnelflow.db.schema import reps, sales_queue, sales_queue_history
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


def calendar_of(team: SalesTeam, rep: Rep) -> Calendar:
    bh = team.business_hours
    return Calendar(rep.zone, bh.opens, bh.closes, bh.weekdays, team.holidays_of(rep))


def sync_reps(conn: sa.Connection, team: SalesTeam, at: datetime) -> None:
    """Make the ``reps`` table say what the team file says; reps gone from the file stay, inactive."""
    managers = {t.name: t.manager for t in team.teams}
    existing = {r.id: r for r in conn.execute(sa.select(reps)).mappings()}
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
            conn.execute(reps.insert().values(id=rep.id, synced_at=at, **row))
        elif any(old[k] != v for k, v in row.items()):
            conn.execute(reps.update().where(reps.c.id == rep.id).values(synced_at=at, **row))
    gone = [rid for rid, r in existing.items() if r["in_team_file"] and team.rep(rid) is None]
    if gone:
        conn.execute(
            reps.update().where(reps.c.id.in_(gone)).values(in_team_file=False, active=False, synced_at=at)
        )


def loads(conn: sa.Connection) -> dict[str, int]:
    """Open items (open or accepted) per rep."""
    rows = conn.execute(
        sa.select(sales_queue.c.rep_id, sa.func.count())
        .where(sales_queue.c.status.in_(OPEN_STATUSES), sales_queue.c.rep_id.is_not(None))
        .group_by(sales_queue.c.rep_id)
    ).all()
    return {r: n for r, n in rows}


def last_assigned(conn: sa.Connection) -> dict[str, datetime]:
    rows = conn.execute(
        sa.select(sales_queue.c.rep_id, sa.func.max(sales_queue.c.assigned_at))
        .where(sales_queue.c.rep_id.is_not(None))
        .group_by(sales_queue.c.rep_id)
    ).all()
    return dict(rows)  # max() keeps the column's type: aware UTC datetimes on both backends


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


def insert_items(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Insert new items (skipping entry keys already queued); returns entry_key -> id of those inserted."""
    if not rows:
        return {}
    keys = [r["entry_key"] for r in rows]
    taken: set[str] = set()
    for i in range(0, len(keys), 5000):
        taken.update(
            conn.execute(
                sa.select(sales_queue.c.entry_key).where(sales_queue.c.entry_key.in_(keys[i : i + 5000]))
            ).scalars()
        )
    fresh = [r for r in rows if r["entry_key"] not in taken]
    ids: dict[str, int] = {}
    for i in range(0, len(fresh), 10_000):
        result = conn.execute(
            sales_queue.insert().returning(
                sales_queue.c.id, sales_queue.c.entry_key, sort_by_parameter_order=True
            ),
            list(fresh[i : i + 10_000]),
        )
        ids.update({key: item_id for item_id, key in result})
    return ids


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
    """Change one item if its status is one of ``expect``; returns the item as it was, or None (nothing changed)."""
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
