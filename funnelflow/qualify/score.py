"""Fit and engagement scores, the breakdown, and the lifecycle stage, in set-based SQL.

One pass over the touchpoints computes each lead's decayed engagement per rule
(``points * 2^(-age / half_life)``, age measured to the run's as-of time, never
the wall clock), joined to the lead and its account for the fit rules. The new
values go into a temporary table; then, in the same transaction, one INSERT
writes a ``lifecycle_history`` row per stage change and one ``UPDATE ... FROM``
writes the leads whose values differ. The same statements run on PostgreSQL and
SQLite (only the date arithmetic and JSON builders differ per dialect).

``render_sql(rules)`` prints the generated statement for analysts; the rule
values are bound parameters, never formatted into the text.
"""

from __future__ import annotations

import contextlib
import logging
import math
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from funnelflow import sql
from funnelflow.db.schema import UTCDateTime, accounts, leads, lifecycle_history, touchpoints
from funnelflow.db.state import get_state, put_state
from funnelflow.qualify.lifecycle import StageSql, clock_expressions, stage_expressions
from funnelflow.qualify.rules import Condition, Rules
from funnelflow.qualify.state import TOUCH_WATERMARK_KEY, live_leads

log = logging.getLogger(__name__)
# The analyst-readable query that picks the leads of a "changed" pass.
Scope = Literal["changed", "all"]
LN2 = math.log(2)

_tmp = sa.MetaData()
# The leads of this pass (changed mode), and the new values of each.
q_batch = sa.Table(
    "q_batch", _tmp, sa.Column("lead_id", sa.BigInteger, primary_key=True), prefixes=["TEMPORARY"]
)
q_new = sa.Table(
    "q_new",
    _tmp,
    sa.Column("lead_id", sa.BigInteger, primary_key=True),
    sa.Column("old_stage", sa.String(20)),
    sa.Column("new_stage", sa.String(20)),
    sa.Column("reason", sa.String(255)),
    sa.Column("fit_score", sa.Integer),
    sa.Column("fit_grade", sa.String(1)),
    sa.Column("engagement_score", sa.Float),
    sa.Column("score_breakdown", sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")),
    sa.Column("mql_since", UTCDateTime()),
    sa.Column("below_threshold_since", UTCDateTime()),
    prefixes=["TEMPORARY"],
)


def _scratch_name(conn: sa.Connection, base: str) -> str:
    # Unique per pass on PostgreSQL (the tables are ordinary, if unlogged);
    # SQLite temp tables are per connection.
    return f"{base}_{uuid.uuid4().hex[:12]}" if conn.dialect.name == "postgresql" else base


def _create_as(conn: sa.Connection, select: sa.Select, name: str, analyze: bool = True) -> None:
    """CREATE TABLE ... AS with the select's values as bound parameters.

    PostgreSQL runs CREATE TABLE AS in parallel (an INSERT ... SELECT never is), and
    parallel workers can read an UNLOGGED table but not a TEMP one. SQLAlchemy's own
    CreateTableAs inlines the values, so the statement is compiled here instead.
    """
    compiled = select.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    processors = compiled._bind_processors
    values = {k: processors[k](v) if k in processors else v for k, v in compiled.construct_params().items()}
    args = tuple(values[k] for k in compiled.positiontup) if compiled.positional else values
    kind = "unlogged table" if conn.dialect.name == "postgresql" else "temp table"
    conn.exec_driver_sql(f"create {kind} {name} as {compiled.string}", args)
    if analyze and conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"analyze {name}")


def new_table(name: str) -> sa.TableClause:
    """The scratch table of new values (same columns as ``q_new``) under its per-pass name."""
    return sa.table(name, *[sa.column(c.name, c.type) for c in q_new.c])


@dataclass
class ScoreResult:
    rules_version: str
    as_of: datetime
    scope: str
    considered: int = 0
    updated: int = 0
    transitions: Counter = field(default_factory=Counter)  # (from, to) -> leads

    @property
    def became_sql(self) -> int:
        return sum(n for (_, to), n in self.transitions.items() if to == "sql")

    def summary(self) -> dict[str, object]:
        return {
            "rules_version": self.rules_version,
            "as_of": self.as_of.isoformat(),
            "scope": self.scope,
            "considered": self.considered,
            "updated": self.updated,
            "transitions": {f"{a}->{b}": n for (a, b), n in sorted(self.transitions.items())},
            "became_sql": self.became_sql,
        }


# --- dialect helpers -----------------------------------------------------------------------


def _age_days(dialect: str, occurred_at: ColumnElement, as_of: ColumnElement) -> ColumnElement:
    if dialect == "postgresql":
        return sa.func.extract("epoch", as_of - occurred_at) / 86400.0
    return sa.func.julianday(as_of) - sa.func.julianday(occurred_at)


def _round2(dialect: str, expr: ColumnElement) -> ColumnElement:
    if dialect == "postgresql":
        return sa.cast(sa.func.round(sa.cast(expr, sa.Numeric), 2), sa.Float)
    return sa.func.round(expr, 2)


def _json_round2(dialect: str, expr: ColumnElement) -> ColumnElement:
    """``expr`` rounded to 2 decimals, as a number of the JSON breakdown.

    PostgreSQL: the rounded numeric without trailing zeros is the very JSON number that the
    rounded float gave (``5``, ``0.98``), without converting it to a float and back to a
    numeric for the JSON, which cost about a sixth of building the breakdown.
    """
    if dialect == "postgresql":
        return sa.func.trim_scale(sa.func.round(sa.cast(expr, sa.Numeric), 2))
    return _round2(dialect, expr)


def _json_object(
    dialect: str, pairs: list[tuple[str, ColumnElement]], strip_nulls: bool = True
) -> ColumnElement:
    """A JSON object of the pairs, keys with null values left out;
    chunked under the function-argument limit."""
    chunks = [pairs[i : i + 40] for i in range(0, len(pairs), 40)] or [[]]
    parts = []
    for chunk in chunks:
        args = [a for key, value in chunk for a in (sa.literal(key), value)]
        if dialect == "postgresql":
            obj = sa.func.jsonb_build_object(*args)
            parts.append(sa.func.jsonb_strip_nulls(obj) if strip_nulls else obj)
        else:
            obj = sa.func.json_object(*args)
            parts.append(sa.func.json_patch("{}", obj) if strip_nulls else obj)
    result = parts[0]
    for part in parts[1:]:
        result = result.op("||")(part) if dialect == "postgresql" else sa.func.json_patch(result, part)
    return result if dialect == "postgresql" else sa.func.json(result)


# --- the rules as SQL expressions ------------------------------------------------------------


# Company facts a person or an export typed (on the lead) win over the account's enriched ones.
TYPED_FIRST = ("country", "industry", "employee_band", "revenue_band")


def _field(name: str, lead: sa.Table, account: sa.Table) -> ColumnElement:
    if name in TYPED_FIRST:
        return sa.func.coalesce(lead.c[name], account.c[name])
    if name in ("region", "competitor"):
        return account.c[name]
    return lead.c[name]


def condition_sql(cond: Condition, lead: sa.Table, account: sa.Table) -> ColumnElement[bool]:
    col = _field(cond.field, lead, account)
    if cond.equals is not None:
        return col.is_(sa.true()) if cond.equals else col.is_(sa.false())
    # Exact match: lower() per row and rule costs seconds over a million leads; values are written as stored.
    return col.in_(list(cond.in_ or []))


def engagement_select(rules: Rules, dialect: str, as_of: ColumnElement, batch: sa.Table | None) -> sa.Select:
    """Per lead: decayed points per touch type and per high-intent page, and when each page was last seen."""
    eng = rules.scoring.engagement
    t = touchpoints
    weight = sa.func.exp(-LN2 * _age_days(dialect, t.c.occurred_at, as_of) / eng.half_life_days)
    url = sa.case((t.c.touch_type == "email_click", t.c.detail["url"].as_string()), else_=t.c.page_url)
    cols: list[ColumnElement] = [t.c.lead_id.label("lead_id")]
    for touch_type, points in eng.points.items():
        cols.append(
            sa.func.sum(sa.case((t.c.touch_type == touch_type, weight * points))).label(f"t_{touch_type}")
        )
    for page in eng.high_intent_pages:
        hit = sa.and_(t.c.touch_type.in_(page.touch_types), url.contains(page.url_contains, autoescape=True))
        cols.append(sa.func.sum(sa.case((hit, weight * page.points))).label(f"p_{page.name}"))
        cols.append(sa.func.max(sa.case((hit, t.c.occurred_at))).label(f"l_{page.name}"))
    stmt = sa.select(*cols).where(t.c.scored.is_(sa.true()), t.c.occurred_at <= as_of)
    if batch is not None:
        stmt = stmt.where(t.c.lead_id.in_(sa.select(batch.c.lead_id)))
    return stmt.group_by(t.c.lead_id)


def _engagement_table(rules: Rules, name: str = "q_eng") -> sa.TableClause:
    """The scratch table that ``CREATE TABLE ... AS`` fills from the engagement aggregate."""
    eng = rules.scoring.engagement
    cols = [sa.column("lead_id", sa.BigInteger)]
    cols += [sa.column(f"t_{k}", sa.Float) for k in eng.points]
    for page in eng.high_intent_pages:
        cols += [sa.column(f"p_{page.name}", sa.Float), sa.column(f"l_{page.name}", UTCDateTime())]
    return sa.table(name, *cols)


def _fenced(stmt: sa.Select, name: str) -> sa.Subquery:
    """A subquery the planner computes once per row,
    instead of inlining its expressions into the next layer."""
    return stmt.offset(0).subquery(name)


def scores_select(
    rules: Rules,
    dialect: str,
    as_of: datetime,
    batch: sa.Table | None,
    materialized: str | None = None,
    fenced: bool = True,
) -> sa.Select:
    """Per lead in scope: old stage, clocks, disqualify hit, last high-intent visits, scores and breakdown.

    ``materialized``: read the engagement aggregate from this table (see ``compute``)
    instead of computing it inline. ``fenced=False`` lets PostgreSQL flatten the
    rule-hits layer (each condition is then tested twice, for the score and the
    breakdown) so the whole select, JSON included, runs in parallel workers; an
    ``OFFSET 0`` fence would force everything above it into the leader process.
    """
    as_of_p = sa.bindparam("as_of", as_of, type_=UTCDateTime())
    e = (
        _engagement_table(rules, materialized)
        if materialized
        else engagement_select(rules, dialect, as_of_p, batch).subquery("e")
    )
    lead, account = leads, accounts
    eng = rules.scoring.engagement
    fit_rules = rules.scoring.fit.rules
    eng_parts = [(f"t_{k}", k) for k in eng.points] + [(f"p_{p.name}", p.name) for p in eng.high_intent_pages]
    pages = [p.name for p in eng.high_intent_pages]

    # Layer 1: which rules hit each lead.
    disqualify = (
        sa.case(
            *[(condition_sql(r, lead, account), sa.literal(r.name)) for r in rules.scoring.disqualify],
            else_=sa.null(),
        )
        if rules.scoring.disqualify
        else sa.null()
    )
    where = live_leads() if batch is None else lead.c.id.in_(sa.select(batch.c.lead_id))
    hits_select = (
        sa.select(
            lead.c.id.label("lead_id"),
            lead.c.lifecycle_stage.label("old_stage"),
            lead.c.mql_since,
            lead.c.below_threshold_since,
            lead.c.sales_recycled_at,
            lead.c.recycle_cooldown_until,
            sa.cast(disqualify, sa.String).label("disqualify"),
            *[
                sa.case((condition_sql(r, lead, account), sa.literal(r.points))).label(f"f_{i}")
                for i, r in enumerate(fit_rules)
            ],
            *[e.c[col] for col, _ in eng_parts],
            *[e.c[f"l_{name}"] for name in pages],
        )
        .select_from(
            lead.outerjoin(account, account.c.id == lead.c.account_id).outerjoin(e, e.c.lead_id == lead.c.id)
        )
        .where(where)
    )
    hits = _fenced(hits_select, "hits") if fenced else hits_select.subquery("hits")
    # Layer 2: the scores and the breakdown.
    fit = sum((sa.func.coalesce(hits.c[f"f_{i}"], 0) for i in range(len(fit_rules))), sa.literal(0))
    engagement = _round2(
        dialect, sum((sa.func.coalesce(hits.c[col], 0.0) for col, _ in eng_parts), sa.literal(0.0))
    )
    breakdown = _json_object(
        dialect,
        [
            ("v", sa.literal(rules.version)),
            ("fit", _json_object(dialect, [(r.name, hits.c[f"f_{i}"]) for i, r in enumerate(fit_rules)])),
            (
                "engagement",
                _json_object(dialect, [(name, _json_round2(dialect, hits.c[c])) for c, name in eng_parts]),
            ),
        ],
        strip_nulls=False,
    )
    return sa.select(
        hits.c.lead_id,
        hits.c.old_stage,
        hits.c.mql_since,
        hits.c.below_threshold_since,
        hits.c.sales_recycled_at,
        hits.c.recycle_cooldown_until,
        hits.c.disqualify,
        *[hits.c[f"l_{name}"] for name in pages],
        fit.label("fit_score"),
        engagement.label("engagement_score"),
        breakdown.label("score_breakdown"),
    )


def _scores_table(rules: Rules, name: str) -> sa.TableClause:
    """The scratch table that ``CREATE TABLE ... AS`` fills from ``scores_select``."""
    pages = [p.name for p in rules.scoring.engagement.high_intent_pages]
    return sa.table(
        name,
        sa.column("lead_id", sa.BigInteger),
        sa.column("old_stage", sa.String),
        sa.column("mql_since", UTCDateTime()),
        sa.column("below_threshold_since", UTCDateTime()),
        sa.column("sales_recycled_at", UTCDateTime()),
        sa.column("recycle_cooldown_until", UTCDateTime()),
        sa.column("disqualify", sa.String),
        *[sa.column(f"l_{name}", UTCDateTime()) for name in pages],
        sa.column("fit_score", sa.Integer),
        sa.column("engagement_score", sa.Float),
        sa.column("score_breakdown", q_new.c.score_breakdown.type),
    )


def staged_select(rules: Rules, scores: sa.Subquery | sa.TableClause, as_of: datetime) -> sa.Select:
    """From the scored rows: grade, stage and reason by the lifecycle rules, then the MQL clocks."""
    as_of_p = sa.bindparam("as_of", as_of, type_=UTCDateTime())
    pages = [p.name for p in rules.scoring.engagement.high_intent_pages]
    grades = rules.scoring.fit.grades
    fs = scores.c.fit_score
    grade = sa.case((fs >= grades.A, "A"), (fs >= grades.B, "B"), (fs >= grades.C, "C"), else_="D")
    # Layer 3: the stage, by the lifecycle rules.
    stage: StageSql = stage_expressions(
        rules,
        row=scores,
        fit_grade=grade,
        total=scores.c.fit_score + scores.c.engagement_score,
        last_seen={name: scores.c[f"l_{name}"] for name in pages},
        as_of=as_of_p,
        as_of_value=as_of,
    )
    staged = _fenced(
        sa.select(
            scores.c.lead_id,
            scores.c.old_stage,
            scores.c.fit_score,
            grade.label("fit_grade"),
            scores.c.engagement_score,
            scores.c.score_breakdown,
            scores.c.mql_since,
            scores.c.below_threshold_since,
            (scores.c.fit_score + scores.c.engagement_score < rules.scoring.lifecycle.mql_threshold).label(
                "below"
            ),
            stage.new_stage.label("new_stage"),
            stage.reason.label("reason"),
        ),
        "staged",
    )
    # Layer 4: the MQL clocks, from the new stage.
    mql_since, below_since = clock_expressions(staged, as_of_p)
    return sa.select(
        staged.c.lead_id,
        staged.c.old_stage,
        staged.c.new_stage,
        staged.c.reason,
        staged.c.fit_score,
        staged.c.fit_grade,
        staged.c.engagement_score,
        staged.c.score_breakdown,
        mql_since.label("mql_since"),
        below_since.label("below_threshold_since"),
    )


def new_values_select(
    rules: Rules, dialect: str, as_of: datetime, batch: sa.Table | None, materialized: str | None = None
) -> sa.Select:
    """The SELECT of (lead, old stage, new stage, reason, scores, breakdown, clocks) for the leads in scope.

    Built in layers (rule hits -> scores -> stage -> clocks), each computed once
    per lead, so a long rules file costs a few more columns, not a larger expression tree.
    ``compute`` runs the same layers as two statements (``scores_select``, then
    ``staged_select`` over its materialized result).
    """
    scores = _fenced(scores_select(rules, dialect, as_of, batch, materialized), "scores")
    return staged_select(rules, scores, as_of)


def render_sql(rules: Rules, dialect_name: str = "postgresql") -> str:
    """The scoring SELECT as the database sees it (parameters shown as placeholders)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql.dialect() if dialect_name == "postgresql" else sqlite.dialect()
    stmt = new_values_select(rules, dialect_name, datetime.fromisoformat("2026-01-01T00:00:00+00:00"), None)
    return str(stmt.compile(dialect=dialect))


# --- the pass ----------------------------------------------------------------------------------


def _prepare(conn: sa.Connection) -> None:
    q_batch.drop(conn, checkfirst=True)
    q_batch.create(conn)
    if conn.dialect.name == "postgresql":
        # The aggregate over every touchpoint keeps its hash table in memory instead of spilling.
        conn.exec_driver_sql("set local work_mem = '256MB'")
        # JIT-compiling the rule expressions costs seconds and saves nothing on this shape of query.
        conn.exec_driver_sql("set local jit = off")


@contextlib.contextmanager
def _leader_only_merges(conn: sa.Connection) -> Iterator[None]:
    """PostgreSQL: the parallel workers aggregate the touchpoints, the leader only merges their groups.

    A lead's touchpoints are spread over the whole table, so every process that scans a share
    of it ends up with a partial group for nearly every lead, and the leader merges them all
    alone. Scanning a share itself (the default) only adds a third set of groups to merge:
    with the leader out of the scan it merges 2 instead of 3 partial groups per lead.
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    before = conn.exec_driver_sql("show parallel_leader_participation").scalar_one()
    conn.exec_driver_sql("set local parallel_leader_participation = off")
    yield
    conn.exec_driver_sql("select set_config('parallel_leader_participation', %s, true)", (before,))


def _fill_changed_batch(conn: sa.Connection, lead_ids: list[int] | None) -> int | None:
    """Leads changed since they were last qualified, or with touchpoints past the watermark;
    returns the new watermark."""
    if lead_ids is not None:
        for i in range(0, len(lead_ids), 5000):
            conn.execute(q_batch.insert(), [{"lead_id": i_} for i_ in sorted(set(lead_ids[i : i + 5000]))])
        return None
    new_mark = conn.execute(sa.select(sa.func.coalesce(sa.func.max(touchpoints.c.id), 0))).scalar_one()
    mark = get_state(conn, TOUCH_WATERMARK_KEY)
    if mark is None:
        # First run: everything alive is new.
        conn.execute(q_batch.insert().from_select(["lead_id"], sa.select(leads.c.id).where(live_leads())))
    else:
        # The analysts' file, as the SELECT of an INSERT (SQLAlchemy composes it; no text is pasted together).
        changed = sql.load("qualify/changed_leads").columns(lead_id=sa.BigInteger)
        conn.execute(q_batch.insert().from_select(["lead_id"], changed), {"touch_watermark": mark})
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("analyze q_batch")
    return new_mark


def compute(
    conn: sa.Connection,
    rules: Rules,
    *,
    as_of: datetime,
    scope: Scope = "changed",
    lead_ids: list[int] | None = None,
) -> tuple[int, int | None, sa.TableClause]:
    """Fill a scratch table with the new values of the leads in scope.

    Returns (leads considered, new touch watermark, the table); the caller drops
    the table (``drop_scratch``) in the same transaction.
    """
    _prepare(conn)
    batch = None
    if scope == "changed":
        mark = _fill_changed_batch(conn, lead_ids)
        batch = q_batch
    else:
        # Every lead is scored with every touchpoint so far: the watermark moves up too.
        mark = conn.execute(sa.select(sa.func.coalesce(sa.func.max(touchpoints.c.id), 0))).scalar_one()
    # Both steps are CREATE TABLE AS: PostgreSQL runs those in parallel (an INSERT ... SELECT never
    # is); the aggregate over the touchpoints first, then the per-lead layers over its result.
    as_of_p = sa.bindparam("as_of", as_of, type_=UTCDateTime())
    eng_name, new_name = _scratch_name(conn, "q_eng"), _scratch_name(conn, "q_new")
    scores_name = _scratch_name(conn, "q_scores")
    with _leader_only_merges(conn):
        _create_as(conn, engagement_select(rules, conn.dialect.name, as_of_p, batch), eng_name)
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"create unique index {eng_name}_lead_id on {eng_name} (lead_id)")
    # The heavy per-lead work (rule tests, sums, JSON) unfenced so it runs in parallel workers;
    # the stage rules, which read each score many times, over its materialized result.
    # Only ever read by one scan of its own (no join, nothing for the planner to choose): no ANALYZE.
    _create_as(
        conn,
        scores_select(rules, conn.dialect.name, as_of, batch, materialized=eng_name, fenced=False),
        scores_name,
        analyze=False,
    )
    conn.exec_driver_sql(f"drop table {eng_name}")
    _create_as(conn, staged_select(rules, _scores_table(rules, scores_name), as_of), new_name)
    conn.exec_driver_sql(f"drop table {scores_name}")
    table = new_table(new_name)
    considered = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    return considered, mark, table


def drop_scratch(conn: sa.Connection, table: sa.TableClause) -> None:
    conn.exec_driver_sql(f"drop table {table.name}")
    q_batch.drop(conn, checkfirst=True)


def transitions(conn: sa.Connection, new: sa.TableClause) -> Counter:
    rows = conn.execute(
        sa.select(new.c.old_stage, new.c.new_stage, sa.func.count())
        .where(new.c.old_stage != new.c.new_stage)
        .group_by(new.c.old_stage, new.c.new_stage)
    ).all()
    return Counter({(a, b): n for a, b, n in rows})


def score_and_stage(
    engine: sa.Engine,
    rules: Rules,
    *,
    as_of: datetime,
    scope: Scope = "changed",
    run_id: str | None = None,
    lead_ids: list[int] | None = None,
    seen_before: datetime | None = None,
) -> ScoreResult:
    """Re-score and re-stage the leads in scope as of ``as_of``; one transaction; idempotent.

    ``scope="changed"`` takes the leads changed since they were last qualified
    plus those with new touchpoints; ``"all"`` every live lead (the daily decay).
    ``seen_before``: leads updated after it (mid-run) stay marked as changed.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    result = ScoreResult(rules.version, as_of, scope)
    with engine.begin() as conn:
        result.considered, mark, new = compute(conn, rules, as_of=as_of, scope=scope, lead_ids=lead_ids)
        result.transitions = transitions(conn, new)
        if result.transitions:
            conn.execute(
                lifecycle_history.insert().from_select(
                    ["lead_id", "from_stage", "to_stage", "changed_at", "reason", "run_id"],
                    sa.select(
                        new.c.lead_id,
                        new.c.old_stage,
                        new.c.new_stage,
                        sa.bindparam("at", as_of, type_=UTCDateTime()),
                        new.c.reason,
                        sa.bindparam("run_id", run_id, type_=sa.String()),
                    )
                    .where(new.c.old_stage != new.c.new_stage)
                    .order_by(new.c.lead_id),
                )
            )
        result.updated = _write_leads(conn, new, as_of, seen_before)
        if mark is not None and mark != get_state(conn, TOUCH_WATERMARK_KEY):
            put_state(conn, TOUCH_WATERMARK_KEY, mark)
        drop_scratch(conn, new)
    log.info(
        "scored %d lead(s), wrote %d, transitions %s (rules %s, as of %s)",
        result.considered,
        result.updated,
        dict(result.transitions),
        rules.version,
        as_of.isoformat(),
    )
    return result


def _write_leads(
    conn: sa.Connection, new: sa.TableClause, as_of: datetime, seen_before: datetime | None
) -> int:
    n = new.c
    qualified = leads.c.updated_at
    if seen_before is not None:
        cutoff = sa.bindparam("seen_before", seen_before, type_=UTCDateTime())
        qualified = sa.case((leads.c.updated_at <= cutoff, leads.c.updated_at), else_=leads.c.qualified_at)
    stage_changed = n.new_stage != n.old_stage
    differs = sa.or_(
        leads.c.fit_score.is_distinct_from(n.fit_score),
        leads.c.fit_grade.is_distinct_from(n.fit_grade),
        leads.c.engagement_score.is_distinct_from(n.engagement_score),
        leads.c.lifecycle_stage != n.new_stage,
        leads.c.mql_since.is_distinct_from(n.mql_since),
        leads.c.below_threshold_since.is_distinct_from(n.below_threshold_since),
        leads.c.qualified_at.is_distinct_from(qualified),
        _breakdown_differs(conn.dialect.name, n.score_breakdown),
    )
    at = sa.bindparam("scored_at", as_of, type_=UTCDateTime())
    stmt = (
        leads.update()
        .where(leads.c.id == n.lead_id, differs)
        .values(
            fit_score=n.fit_score,
            fit_grade=n.fit_grade,
            engagement_score=n.engagement_score,
            score_breakdown=n.score_breakdown,
            scored_at=at,
            lifecycle_stage=n.new_stage,
            lifecycle_changed_at=sa.case((stage_changed, at), else_=leads.c.lifecycle_changed_at),
            mql_since=n.mql_since,
            below_threshold_since=n.below_threshold_since,
            qualified_at=qualified,
            # Scores are derived: leave updated_at alone so this write does not re-queue the lead.
            updated_at=leads.c.updated_at,
        )
    )
    return conn.execute(stmt).rowcount


def _breakdown_differs(dialect: str, new: ColumnElement) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return leads.c.score_breakdown.is_distinct_from(new)
    return sa.func.coalesce(sa.cast(leads.c.score_breakdown, sa.Text), "") != sa.func.coalesce(
        sa.cast(new, sa.Text), ""
    )


def as_of_days_ago(as_of: datetime, days: float) -> datetime:
    return as_of - timedelta(days=days)
