"""Lifecycle stages: subscriber -> lead -> MQL -> SQL -> opportunity -> customer; recycled, disqualified.

The rules, in the order they are tried for each lead (the first that applies wins):

1. ``sql``, ``opportunity``, ``customer`` and ``disqualified`` are sales' stages:
   scoring never moves a lead out of them.
2. disqualify: a marketing ``disqualify`` rule matches (competitor, invalid email...).
3. SQL: one of sales' ``sql_rules`` matches (stage, grade, a recent high-intent action). A lead
   a rep rejected (``recycle_cooldown_until`` ahead) only qualifies by an action after the rejection.
4. recycle: an MQL under the MQL threshold since ``recycle_after_days`` ago. Decay
   alone never moves a lead back: an MQL below the threshold stays an MQL, with
   ``below_threshold_since`` set, until this explicit rule fires.
5. MQL: a lead, subscriber or recycled lead at or above ``mql_threshold`` (fit + engagement).
6. lead: a subscriber at or above ``lead_threshold``.

Each change is one ``lifecycle_history`` row whose reason names the rule and the
rules version. The rules become one SQL CASE expression (``stage_expressions``),
evaluated for every lead in the same statement that scores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from funnelflow.db.schema import UTCDateTime
from funnelflow.qualify.rules import Rules

SALES_STAGES = ("sql", "opportunity", "customer", "disqualified")
PRE_MQL_STAGES = ("subscriber", "lead", "recycled")


@dataclass(frozen=True)
class StageSql:
    new_stage: ColumnElement
    reason: ColumnElement


def stage_expressions(
    rules: Rules,
    *,
    row: sa.Subquery,
    fit_grade: ColumnElement,
    total: ColumnElement,
    last_seen: dict[str, ColumnElement],
    as_of: ColumnElement,
    as_of_value: datetime,
) -> StageSql:
    """The new stage and the reason of a lead, as SQL over its scored row.

    The row carries old_stage, the clocks and the disqualify hit.
    """
    life = rules.scoring.lifecycle
    stage = row.c.old_stage
    version = f" @{rules.version}"
    below = total < life.mql_threshold
    mql_now = sa.or_(stage == "mql", sa.and_(stage.in_(PRE_MQL_STAGES), sa.not_(below)))

    sql_rules = []
    for rule in rules.sales.sql_rules:
        stage_ok = stage.in_(rule.from_stages)
        if "mql" in rule.from_stages:
            stage_ok = sa.or_(stage_ok, mql_now)
        since = sa.bindparam(
            f"since_{rule.name}", as_of_value - timedelta(days=rule.within_days), type_=UTCDateTime()
        )
        recent = sa.or_(*[last_seen[a] >= since for a in rule.recent_actions])
        # A lead a rep rejected is not an SQL again within the cooldown, unless one of the rule's
        # high-intent actions happened after the rejection (sales handoff, funnelflow.sales.feedback).
        cooled = sa.or_(
            row.c.recycle_cooldown_until.is_(None),
            row.c.recycle_cooldown_until <= as_of,
            *[last_seen[a] > row.c.sales_recycled_at for a in rule.recent_actions],
        )
        cond = sa.and_(stage_ok, recent, cooled)
        if rule.grades:
            cond = sa.and_(cond, fit_grade.in_(rule.grades))
        sql_rules.append((cond, f"sql_rule:{rule.name}{version}"))
    recycle_before = sa.bindparam(
        "recycle_before", as_of_value - timedelta(days=life.recycle_after_days), type_=UTCDateTime()
    )
    recycle = sa.and_(stage == "mql", below, row.c.below_threshold_since <= recycle_before)
    to_mql = sa.and_(stage.in_(PRE_MQL_STAGES), sa.not_(below))
    to_lead = sa.and_(stage == "subscriber", total >= life.lead_threshold)

    kept = stage.in_(SALES_STAGES)
    disqualified = row.c.disqualify.is_not(None)
    branches: list[tuple[ColumnElement, str, ColumnElement]] = [
        (disqualified, "disqualified", sa.literal("disqualify:") + row.c.disqualify + sa.literal(version)),
        *[(c, "sql", sa.literal(why)) for c, why in sql_rules],
        (recycle, "recycled", sa.literal(f"recycle:below_mql_threshold_{life.recycle_after_days}d{version}")),
        (to_mql, "mql", sa.literal(f"mql:score_at_least_{life.mql_threshold:g}{version}")),
        (to_lead, "lead", sa.literal(f"lead:score_at_least_{life.lead_threshold:g}{version}")),
    ]
    new_stage = sa.case((kept, stage), *[(c, sa.literal(s)) for c, s, _ in branches], else_=stage)
    reason = sa.case((kept, sa.null()), *[(c, why) for c, _, why in branches], else_=sa.null())
    return StageSql(new_stage=new_stage, reason=reason)


def clock_expressions(staged: sa.Subquery, as_of: ColumnElement) -> tuple[ColumnElement, ColumnElement]:
    """``mql_since`` (when the lead last became an MQL) and ``below_threshold_since``.

    ``below_threshold_since``: since when an MQL has been under the bar.
    """
    c = staged.c
    is_mql = c.new_stage == "mql"
    mql_since = sa.case((sa.and_(is_mql, c.old_stage != "mql"), as_of), else_=c.mql_since)
    below_since = sa.case(
        (
            sa.and_(is_mql, c.below),
            sa.func.coalesce(sa.case((c.old_stage == "mql", c.below_threshold_since)), as_of),
        ),
        else_=sa.null(),
    )
    return mql_since, below_since
