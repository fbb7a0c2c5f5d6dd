"""Compute weeks of funnel metrics: delete those weeks' rows and insert them again, in one transaction.

The SQL is in ``include/sql/metrics/`` (one file per result table, read by analysts too). A run
first brings the maintained origins and first stage entries up to date (``funnelflow.metrics.
origins``: only the leads whose rows changed since the last run, in a transaction of its own),
then the staged queries (``stg_lead_owner``, ``stg_stage_changes``, ``stg_email_sends``,
``stg_email_events``, ``stg_handoff_outcomes``, ``stg_won_opportunities``) become temporary
tables, because every mart needs them, and ``stg_lead_origin`` and ``stg_first_stage_entry``
temporary views of the maintained tables, with the weeks to compute (``stg_weeks``: their bounds
in the report time zone) and each week's cohort weeks (``stg_cohort_weeks``). Each result table
is then one statement for all the weeks at once (a 52-week backfill runs each table's query
once, not 52 times). Everything a week's figures depend on is the week itself (its bounds;
cohorts are as of the week's end), never the wall clock, so a rerun over the same database gives
identical rows.
"""

from __future__ import annotations

import logging
import re
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from funnelflow import sql
from funnelflow.db.schema import (
    UTCDateTime,
    attribution_weekly,
    email_weekly,
    funnel_cohorts,
    funnel_velocity,
    funnel_weekly,
    metrics_weeks,
    retention_weekly,
    sla_rejections_weekly,
    sla_weekly,
    utcnow,
    webinar_weekly,
)
from funnelflow.metrics import origins
from funnelflow.metrics.weeks import Week
from funnelflow.sales.hours import Calendar, business_hours_between
from funnelflow.sales.team import SalesTeam, load_team, team_path

log = logging.getLogger(__name__)

COHORT_WEEKS = 12  # the report shows the cohorts of the 12 weeks up to the report's week
METRICS_LOCK_BASE = 14_000_000_000  # advisory lock keys of the metrics: this + the week's day number

# Staged queries, built in this order (each may read the ones before), with their indexes.
STAGING: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = (
    ("stg_lead_owner", (("lead_id",),)),
    ("stg_stage_changes", (("changed_at",),)),
    ("stg_email_sends", (("sent_at",),)),
    ("stg_email_events", (("occurred_at",),)),
    ("stg_handoff_outcomes", (("decided_at",),)),
    ("stg_won_opportunities", (("closed_at",), ("lead_id",))),
)

# Staged names that are views of the maintained tables (funnelflow.metrics.origins keeps them up
# to date; the marts read them through the tables' indexes).
MAINTAINED_VIEWS: dict[str, str] = {
    "stg_lead_origin": "select lead_id, first_touch_at, channel, source, campaign from metrics_lead_origin",
    "stg_first_stage_entry": "select lead_id, stage, first_at from metrics_first_stage_entry",
}

# Columns the table's SQL leaves out, filled afterwards in Python (business hours need the reps'
# calendars from config/sales_team.yaml: see _fill_sla_medians).
NOT_COMPUTED: dict[str, tuple[str, ...]] = {
    "sla_weekly": ("median_business_hours_to_first_action",),
}
# Indexes only SQLite's marts read. PostgreSQL's email_weekly finds each send's and event's week
# with width_bucket and reads these staged tables straight through (they hold only the computed
# weeks' rows), so there the index would only cost its build (1.6-4.4 s for 3M events, load 5).
SQLITE_ONLY_INDEXES = frozenset({("stg_email_sends", ("sent_at",)), ("stg_email_events", ("occurred_at",))})

# Result tables, each from include/sql/metrics/<table>.sql.
COMPUTED_TABLES: tuple[sa.Table, ...] = (
    funnel_weekly,
    funnel_cohorts,
    funnel_velocity,
    email_weekly,
    attribution_weekly,
    webinar_weekly,
    sla_weekly,
    sla_rejections_weekly,
    retention_weekly,
)

_weeks = sa.Table(
    "stg_weeks",
    sa.MetaData(),
    sa.Column("week_start", sa.Date, nullable=False),
    sa.Column("starts_at", UTCDateTime(), nullable=False),
    sa.Column("ends_at", UTCDateTime(), nullable=False),  # also the as-of time of the week's cohorts
    sa.Column("next_week_start", sa.Date, nullable=False),
    prefixes=["TEMPORARY"],
)
_cohort_weeks = sa.Table(  # for each computed week, the COHORT_WEEKS weeks up to it
    "stg_cohort_weeks",
    sa.MetaData(),
    sa.Column("week_start", sa.Date, nullable=False),
    sa.Column("cohort_week_start", sa.Date, nullable=False),
    sa.Column("starts_at", UTCDateTime(), nullable=False),
    sa.Column("ends_at", UTCDateTime(), nullable=False),
    prefixes=["TEMPORARY"],
)

_BINDS = {
    "starts_at": UTCDateTime(),
    "ends_at": UTCDateTime(),
    "from_at": UTCDateTime(),
    "to_at": UTCDateTime(),
}


@dataclass
class WeekResult:
    """What one week's computation wrote: counts only, safe to log and return as XCom."""

    week: str
    week_start: str
    rows: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"week": self.week, "week_start": self.week_start, "rows": dict(self.rows)}


def _statement(text: str, params: dict) -> sa.TextClause:
    used = [name for name in params if re.search(rf":{name}\b", text)]
    return sa.text(text).bindparams(*(sa.bindparam(n, params[n], type_=_BINDS[n]) for n in used))


def build_staging(conn: sa.Connection, weeks: Sequence[Week]) -> None:
    """The staged queries as temporary tables of this connection (dropped first if present), the
    maintained origins and first entries as temporary views, and ``weeks`` with their cohort weeks.

    Facts only the week itself needs (stage changes, email sends and events) are kept for
    ``weeks`` only; origins and first entries need all history: they are the maintained tables
    (``funnelflow.metrics.origins``, refreshed before this), won deals are staged in full."""
    drop_staging(conn)
    dialect = conn.dialect.name
    span = {"from_at": min(w.starts_at for w in weeks), "to_at": max(w.ends_at for w in weeks)}
    for name, select in MAINTAINED_VIEWS.items():
        conn.execute(sa.text(f"create temporary view {name} as {select}"))
    for name, indexes in STAGING:
        t0 = time.perf_counter()
        select = sql.source(f"metrics/{name}", dialect)
        conn.execute(_statement(f"create temporary table {name} as {select}", span))
        for cols in indexes:
            if dialect == "postgresql" and (name, cols) in SQLITE_ONLY_INDEXES:
                continue
            conn.execute(sa.text(f"create index ix_{name}_{'_'.join(cols)} on {name} ({', '.join(cols)})"))
        if dialect == "postgresql":
            conn.execute(sa.text(f"analyze {name}"))  # temporary tables get no statistics otherwise
        log.debug("metrics staging: %s in %.2fs", name, time.perf_counter() - t0)
    _weeks.create(conn)
    conn.execute(
        _weeks.insert(),
        [
            {
                "week_start": w.start,
                "starts_at": w.starts_at,
                "ends_at": w.ends_at,
                "next_week_start": w.shift(1).start,
            }
            for w in weeks
        ],
    )
    _cohort_weeks.create(conn)
    conn.execute(
        _cohort_weeks.insert(),
        [
            {
                "week_start": w.start,
                "cohort_week_start": c.start,
                "starts_at": c.starts_at,
                "ends_at": c.ends_at,
            }
            for w in weeks
            for c in (w.shift(-i) for i in range(COHORT_WEEKS))
        ],
    )
    if dialect == "postgresql":
        conn.execute(sa.text("analyze stg_weeks"))
        conn.execute(sa.text("analyze stg_cohort_weeks"))
        # the weeks as arrays, read by every PostgreSQL mart's width_bucket
        week_list = sql.source("metrics/stg_week_list", dialect)
        conn.execute(sa.text(f"create temporary table stg_week_list as {week_list}"))


def drop_staging(conn: sa.Connection) -> None:
    for name in ("stg_week_list", "stg_cohort_weeks", "stg_weeks", *(n for n, _ in reversed(STAGING))):
        conn.execute(sa.text(f"drop table if exists {name}"))
    for name in MAINTAINED_VIEWS:
        conn.execute(sa.text(f"drop view if exists {name}"))


def replace_weeks(
    conn: sa.Connection, weeks: Sequence[Week], team: SalesTeam | None = None
) -> list[WeekResult]:
    """Delete ``weeks``' rows from every result table and insert them again (staging of these
    weeks must exist), in the caller's transaction."""
    starts = sorted({w.start for w in weeks})
    if conn.dialect.name == "postgresql":
        # Two computations of one week at once (the DAG and the command line) take turns instead of
        # both inserting after both deleted; locks in date order, so two backfills cannot deadlock.
        # SQLite has one writer: the DELETE below already waits.
        for start in starts:
            conn.execute(
                sa.text("select pg_advisory_xact_lock(:key)"), {"key": METRICS_LOCK_BASE + start.toordinal()}
            )
    for table in (*COMPUTED_TABLES, metrics_weeks):
        conn.execute(table.delete().where(table.c.week_start.in_(starts)))
    dialect = conn.dialect.name
    if dialect == "postgresql":
        # The marts are short queries over temporary tables whose row estimates are guesses:
        # JIT compiling them cost ~0.9 s per statement and saved nothing (measured, bench/metrics.py).
        conn.execute(sa.text("set local jit = off"))
    results = {w.start: WeekResult(w.iso, w.start.isoformat()) for w in weeks}
    span = {"from_at": min(w.starts_at for w in weeks), "to_at": max(w.ends_at for w in weeks)}
    for table in COMPUTED_TABLES:
        skip = NOT_COMPUTED.get(table.name, ())
        columns = ", ".join(c.name for c in table.columns if c.name not in skip)
        select = sql.source(f"metrics/{table.name}", dialect)
        t0 = time.perf_counter()
        conn.execute(_statement(f"insert into {table.name} ({columns})\n{select}", span))
        log.debug("metrics mart: %s in %.2fs", table.name, time.perf_counter() - t0)
        counts = conn.execute(
            sa.select(table.c.week_start, sa.func.count())
            .where(table.c.week_start.in_(starts))
            .group_by(table.c.week_start)
        ).all()
        for result in results.values():
            result.rows[table.name] = 0
        for week_start, count in counts:
            results[week_start].rows[table.name] = count
    for week in weeks:
        _fill_sla_medians(conn, week, team)
    conn.execute(
        metrics_weeks.insert(),
        [
            {
                "week_start": week.start,
                "iso_week": week.iso,
                "timezone": week.tz.key,
                "starts_at": week.starts_at,
                "ends_at": week.ends_at,
                "computed_at": utcnow(),
            }
            for week in weeks
        ],
    )
    return [results[w.start] for w in weeks]


def sales_team() -> SalesTeam | None:
    """The sales team file if there is one (a wrong file is an error naming its line); None without it."""
    path = team_path()
    if not path.is_file():
        log.info("no %s: the SLA medians of business hours stay empty", path)
        return None
    return load_team(path)


def _fill_sla_medians(conn: sa.Connection, week: Week, team: SalesTeam | None) -> None:
    """sla_weekly.median_business_hours_to_first_action: per team and rep, the median business hours
    from assignment to first action of the week's due items, in the rep's calendar (time zone and
    holidays of reps, opening hours of the team file). Without the team file they stay NULL."""
    if team is None:
        return
    params = {"starts_at": week.starts_at, "ends_at": week.ends_at}
    hours: dict[tuple[str, str], list[float]] = defaultdict(list)
    select = _statement(sql.source("metrics/sla_first_actions", conn.dialect.name), params)
    rows = conn.execute(select.columns(assigned_at=UTCDateTime(), first_action_at=UTCDateTime()))
    bh = team.business_hours
    for row in rows.mappings():
        if row["timezone"] is None:
            continue  # nobody holds the item: no calendar to count in
        holidays = frozenset(team.holidays.get(row["calendar"], ())) if row["calendar"] else frozenset()
        cal = Calendar(ZoneInfo(row["timezone"]), bh.opens, bh.closes, bh.weekdays, holidays)
        hours[(row["team"], row["rep_id"])].append(
            business_hours_between(cal, row["assigned_at"], row["first_action_at"])
        )
    for (team_name, rep_id), values in hours.items():
        conn.execute(
            sla_weekly.update()
            .where(
                sla_weekly.c.week_start == week.start,
                sla_weekly.c.team == team_name,
                sla_weekly.c.rep_id == rep_id,
            )
            .values(median_business_hours_to_first_action=statistics.median(values))
        )


def _postgres_memory(conn: sa.Connection) -> None:
    """More memory for this run than PostgreSQL's defaults give a session (measured with EXPLAIN
    ANALYZE): a backfill's statements sort and hash millions of rows (a year of attribution sorts
    2 million touches), which spilled to disk with the default 4 MB work_mem and still with 64 MB
    (256 MB saved 10-20% of the marts' CPU at a million leads); and the staged tables live in the
    session's temp_buffers (8 MB by default), so every index scan over them went to the operating
    system. temp_buffers
    can only be raised before a session's first temporary table: a pooled connection that already
    had one keeps the size it had."""
    conn.execute(sa.text("set local work_mem = '256MB'"))
    try:
        with conn.begin_nested():
            conn.execute(sa.text("set temp_buffers = '256MB'"))
    except sa.exc.DBAPIError:
        kept = conn.execute(sa.text("show temp_buffers")).scalar()
        log.info("temp_buffers stays %s on this connection (it had temporary tables already)", kept)


def compute_weeks(
    engine: sa.Engine, weeks: Sequence[Week], team: SalesTeam | None = None
) -> list[WeekResult]:
    """Refresh the maintained origins (``funnelflow.metrics.origins``, one transaction), then compute
    ``weeks`` in one transaction: staging, then each result table in one statement.

    ``team`` (default: config/sales_team.yaml when it exists) gives the reps' business hours."""
    team = team if team is not None else sales_team()
    weeks = list({w.start: w for w in weeks}.values())  # each week once
    if not weeks:
        return []
    with engine.connect() as conn:
        try:
            if conn.dialect.name == "postgresql":
                with conn.begin():
                    _postgres_memory(conn)  # before the refresh's temporary tables (temp_buffers)
            origins.refresh(conn)  # committed on its own: the tables are right whatever the weeks do
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    _postgres_memory(conn)
                    # Every mart of the run reads the same maintained rows: no refresh (which takes
                    # this lock exclusively) commits until this transaction ends.
                    conn.execute(
                        sa.text("select pg_advisory_xact_lock_shared(:key)"), {"key": origins.REFRESH_LOCK}
                    )
                build_staging(conn, weeks)
                results = replace_weeks(conn, weeks, team)
            for result in results:
                log.info("funnel metrics %s: %s", result.week, result.rows)
        finally:
            if conn.in_transaction():
                conn.rollback()
            with conn.begin():
                drop_staging(conn)
    return results


def compute_week(engine: sa.Engine, week: Week, team: SalesTeam | None = None) -> WeekResult:
    """One week, in one transaction (staging included)."""
    return compute_weeks(engine, [week], team)[0]


def computed_weeks(conn: sa.Connection, weeks: Sequence[Week]) -> set:
    """Which of ``weeks`` have been computed (their week_start dates)."""
    if not weeks:
        return set()
    starts = [w.start for w in weeks]
    return set(
        conn.execute(
            sa.select(metrics_weeks.c.week_start).where(metrics_weeks.c.week_start.in_(starts))
        ).scalars()
    )


def compute_for_report(
    engine: sa.Engine, week: Week, trend_weeks: int = COHORT_WEEKS, team: SalesTeam | None = None
) -> list[WeekResult]:
    """``week`` (always recomputed) and any of the weeks before it the report's trend shows that were
    never computed; weeks already computed keep their rows."""
    earlier = [week.shift(-i) for i in range(trend_weeks - 1, 0, -1)]
    with engine.connect() as conn:
        done = computed_weeks(conn, earlier)
    return compute_weeks(engine, [w for w in earlier if w.start not in done] + [week], team)
