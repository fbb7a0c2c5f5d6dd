"""The maintained origins and first stage entries of the counted leads (issue 14).

``metrics_lead_origin`` holds each counted lead's earliest touch (first_touch_at, channel, source,
campaign; merged leads' touches included, ties by occurred_at then id) and
``metrics_first_stage_entry`` each counted lead's first entry into each stage (merged leads'
lifecycle_history included). The weekly metrics read them (as ``stg_lead_origin`` and
``stg_first_stage_entry``) through their indexes: a week's new leads are the origins whose
first_touch_at falls in it, its conversions the first entries whose first_at does, so one week no
longer ranks every touchpoint of the database. This module is their only writer.

How they stay equal to a full recomputation (``include/sql/metrics/metrics_lead_origin.sql`` and
``metrics_first_stage_entry.sql``, the definitions, computed for the leads in ``stg_refresh_leads``:
the changed ones, or every counted lead for a full build): the triggers of migration 0015 note in
``metrics_lead_changes``, inside the transaction of every change, each lead whose rows changed:
a touchpoint or lifecycle_history row inserted, deleted, or updated in a column these tables read
(old and new lead), a lead's ``merged_into_id`` set or cleared (a merge, an undone merge: the
lead, its old and its new survivor), a lead deleted. Whoever writes (ingestion, email events,
webinars, sales, dedupe, privacy, an analyst by hand) is covered, and since a note commits with
its change, no change can be missed because transactions commit out of id order.

``refresh`` (called at the start of every metrics computation, in its own transaction) takes the
notes (``delete ... returning``: only the notes committed by then, later ones stay for the next
refresh), and recomputes the noted leads and their current survivors from all their rows: a
merge moves the loser's rows to the survivor and drops the loser's own rows, an undone merge
gives them back. Erasure anonymises rows but changes none of the columns read here, so it notes
nothing and changes nothing. It rebuilds both tables in full instead when they were never built
(right after the migration, or on a database whose state was reset), when a watched table was
truncated (note -1), or when more than ``FULL_REBUILD_SHARE`` of the leads changed (a bulk load:
one pass over everything is faster than looking each lead up). Refreshes take turns (an advisory
lock on PostgreSQL, then one REPEATABLE READ snapshot for the whole refresh; SQLite has one
writer, and the refresh's first statement writes).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import sqlalchemy as sa

from funnelflow import sql
from funnelflow.db.schema import metrics_first_stage_entry, metrics_lead_changes, metrics_lead_origin
from funnelflow.db.state import get_state, put_state

log = logging.getLogger(__name__)

STATE_KEY = "metrics.origins"  # pipeline_state: {"built": true} once the tables were built in full
# Advisory lock of the refresh (the week locks are above 14e9): exclusive for a refresh, shared by
# a metrics run's transaction while its marts read the tables (funnelflow.metrics.compute).
REFRESH_LOCK = 14_000_000_000 - 1
FULL_REBUILD_SHARE = 0.2  # rebuild in full when more than this share of the leads changed
FULL_REBUILD_MIN = 1000  # ... and more than this many (a small database is always done lead by lead)
TRUNCATED = -1  # the note of a TRUNCATE

MAINTAINED = (  # (table, its rows for the leads in stg_refresh_leads)
    (metrics_lead_origin, "metrics/metrics_lead_origin"),
    (metrics_first_stage_entry, "metrics/metrics_first_stage_entry"),
)
_TEMP = ("stg_rebuilt", "stg_refresh_members", "stg_refresh_leads", "stg_changed_leads", "stg_lead_owner")


@dataclass
class Refresh:
    """What a refresh did (counts only: safe to log)."""

    mode: str  # "full", "leads" (the changed leads only) or "none" (nothing changed)
    reason: str
    changed_leads: int  # distinct leads noted since the last refresh
    refreshed_leads: int  # leads recomputed (the noted ones and their survivors); all on a full build
    seconds: float


def refresh(conn: sa.Connection, *, full: bool = False) -> Refresh:
    """Bring both tables up to date in a transaction of its own on ``conn``, which must have none
    open (``full``: rebuild them anyway).

    On PostgreSQL the refresh holds an advisory lock (taken before its transaction, so its snapshot
    sees every earlier refresh) and runs at REPEATABLE READ: every statement sees the one state the
    notes were taken in, so a merge committing half-way cannot be half seen; what commits later
    keeps its notes for the next refresh."""
    if conn.dialect.name != "postgresql":
        with conn.begin():
            return _refresh(conn, full)
    conn.execute(sa.text("select pg_advisory_lock(:key)"), {"key": REFRESH_LOCK})
    conn.commit()
    try:
        with conn.begin():
            conn.execute(sa.text("set transaction isolation level repeatable read"))  # the first statement
            conn.execute(sa.text("set local work_mem = '64MB'"))
            return _refresh(conn, full)
    finally:
        try:
            conn.execute(sa.text("select pg_advisory_unlock(:key)"), {"key": REFRESH_LOCK})
            conn.commit()
        except sa.exc.DBAPIError:
            conn.invalidate()  # the session ends, and its lock with it


def _refresh(conn: sa.Connection, full: bool) -> Refresh:
    t0 = time.perf_counter()
    dialect = conn.dialect.name
    _drop_temp(conn)
    _take_notes(conn)  # first: on SQLite this takes the write lock before anything is read
    built = bool((get_state(conn, STATE_KEY) or {}).get("built"))
    noted = conn.execute(sa.text("select count(*) from stg_changed_leads")).scalar_one()
    truncated = conn.execute(
        sa.text("select count(*) from stg_changed_leads where lead_id = :t"), {"t": TRUNCATED}
    ).scalar_one()
    if full or not built or truncated:
        reason = "asked" if full else "never built" if not built else "a watched table was truncated"
    elif noted == 0:
        _drop_temp(conn)
        return Refresh("none", "nothing changed", 0, 0, time.perf_counter() - t0)
    else:
        leads = conn.execute(sa.select(sa.func.count()).select_from(metrics_lead_origin)).scalar_one()
        many = noted > max(FULL_REBUILD_MIN, FULL_REBUILD_SHARE * leads)
        reason = f"{noted} of {leads} leads changed" if many else ""
    _stage(conn, "stg_lead_owner", sql.source("metrics/stg_lead_owner", dialect), ("lead_id",), ("owner_id",))
    if reason:
        refreshed = _rebuild(conn)
        put_state(conn, STATE_KEY, {"built": True})
        mode = "full"
    else:
        refreshed = _refresh_leads(conn)
        mode, reason = "leads", "changes noted"
    _drop_temp(conn)
    result = Refresh(mode, reason, noted, refreshed, time.perf_counter() - t0)
    log.info(
        "metrics origins: %s refresh (%s): %d leads noted, %d recomputed in %.1fs",
        mode,
        reason,
        noted,
        refreshed,
        result.seconds,
    )
    return result


def _take_notes(conn: sa.Connection) -> None:
    """Move the notes committed so far into stg_changed_leads (distinct lead ids), deleting them."""
    conn.execute(sa.text("create temporary table stg_changed_leads (lead_id bigint not null)"))
    if conn.dialect.name == "postgresql":
        # One statement: exactly the notes it deletes (those committed when it started) are kept.
        conn.execute(
            sa.text(
                "with taken as (delete from metrics_lead_changes returning lead_id) "
                "insert into stg_changed_leads (lead_id) select distinct lead_id from taken"
            )
        )
    else:
        taken = set(conn.execute(sa.text("delete from metrics_lead_changes returning lead_id")).scalars())
        if taken:
            conn.execute(
                sa.text("insert into stg_changed_leads (lead_id) values (:lead_id)"),
                [{"lead_id": lead_id} for lead_id in taken],
            )
    conn.execute(sa.text("create index ix_stg_changed_leads_lead_id on stg_changed_leads (lead_id)"))


def _stage(conn: sa.Connection, name: str, select: str, *indexes: tuple[str, ...]) -> None:
    conn.execute(sa.text(f"create temporary table {name} as {select}"))
    for cols in indexes:
        conn.execute(sa.text(f"create index ix_{name}_{'_'.join(cols)} on {name} ({', '.join(cols)})"))
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"analyze {name}"))


def _rebuild(conn: sa.Connection) -> int:
    """Compute both tables in full (stg_refresh_leads: every counted lead). An empty table (the
    first build) gets every row, in key order; otherwise the rows go into a temporary table first
    and only the difference is written (rows no longer right deleted, missing ones inserted), so a
    rebuild after a bulk change writes what changed, not every row again."""
    dialect = conn.dialect.name
    counted = "select id as lead_id from leads where merged_into_id is null"
    _stage(conn, "stg_refresh_leads", counted, ("lead_id",))
    _stage_members(conn)
    for table, build in MAINTAINED:
        t0 = time.perf_counter()
        key = [c.name for c in table.primary_key.columns]
        columns = ", ".join(c.name for c in table.columns)
        if conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is None:  # first build
            conn.execute(
                sa.text(
                    f"insert into {table.name} ({columns})\n{sql.source(build, dialect)}\norder by {key[0]}"
                )
            )
            if dialect == "postgresql":
                conn.execute(sa.text(f"analyze {table.name}"))
            log.debug("metrics origins: %s built (first) in %.1fs", table.name, time.perf_counter() - t0)
            continue
        _stage(conn, "stg_rebuilt", sql.source(build, dialect), tuple(key))
        rebuilt = sa.table("stg_rebuilt", *(sa.column(c.name) for c in table.columns))
        conn.execute(
            table.delete().where(~sa.exists().where(*(rebuilt.c[c.name] == c for c in table.columns)))
        )
        conn.execute(
            table.insert().from_select(
                [c.name for c in table.columns],
                sa.select(*rebuilt.c)
                .where(~sa.exists().where(*(table.c[k] == rebuilt.c[k] for k in key)))
                .order_by(*(rebuilt.c[k] for k in key)),
            )
        )
        conn.execute(sa.text("drop table stg_rebuilt"))
        if dialect == "postgresql":
            conn.execute(sa.text(f"analyze {table.name}"))
        log.debug("metrics origins: %s built in %.1fs", table.name, time.perf_counter() - t0)
    return conn.execute(sa.select(sa.func.count()).select_from(metrics_lead_origin)).scalar_one()


def _refresh_leads(conn: sa.Connection) -> int:
    """Recompute the noted leads and their survivors now: delete their rows, insert them again."""
    dialect = conn.dialect.name
    _stage(
        conn,
        "stg_refresh_leads",
        "select lead_id from stg_changed_leads where lead_id <> -1 "
        "union select stg_lead_owner.owner_id from stg_lead_owner "
        "join stg_changed_leads on stg_changed_leads.lead_id = stg_lead_owner.lead_id",
        ("lead_id",),
    )
    refreshed = conn.execute(sa.text("select count(*) from stg_refresh_leads")).scalar_one()
    _stage_members(conn)
    for table, refresh_sql in MAINTAINED:
        t0 = time.perf_counter()
        conn.execute(
            table.delete().where(
                table.c.lead_id.in_(
                    sa.select(sa.column("lead_id")).select_from(sa.table("stg_refresh_leads"))
                )
            )
        )
        columns = ", ".join(c.name for c in table.columns)
        conn.execute(sa.text(f"insert into {table.name} ({columns})\n{sql.source(refresh_sql, dialect)}"))
        log.debug("metrics origins: %s refreshed in %.2fs", table.name, time.perf_counter() - t0)
    return refreshed


def _stage_members(conn: sa.Connection) -> None:
    """stg_refresh_members: whose rows count for each lead in stg_refresh_leads (both tables read it)."""
    members = sql.source("metrics/stg_refresh_members", conn.dialect.name)
    _stage(conn, "stg_refresh_members", members, ("lead_id",))


def _drop_temp(conn: sa.Connection) -> None:
    for name in _TEMP:
        conn.execute(sa.text(f"drop table if exists {name}"))


def pending_changes(conn: sa.Connection) -> int:
    """How many notes wait for the next refresh (rows, not distinct leads)."""
    return conn.execute(sa.select(sa.func.count()).select_from(metrics_lead_changes)).scalar_one()
