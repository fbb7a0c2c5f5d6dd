"""Retention items after the sale: check-ins, renewals and upsell signals, routed like handoffs.

- ``check_in``: ``retention.check_in_days`` (30 and 90) days after a won
  opportunity closed (``check_in:<opportunity>:<days>``).
- ``renewal``: from ``retention.renewal_days_before`` days before an
  opportunity's renewal date until that date (``renewal:<opportunity>:<date>``).
- ``upsell``: a customer visited a page of ``retention.upsell_pages`` (pricing,
  demo) in the last 7 days, or their engagement score rose by at least
  ``retention.upsell_engagement_rise`` in the last 7 days
  (``upsell:<lead>:<ISO week>``: at most one a week, whichever signal comes first).
  The rise compares the engagement score as of the run's time with the score as
  of seven days earlier, both computed by the scoring rules
  (``funnelflow.qualify.score``) from the touchpoints, so no score history is
  needed and a rerun gives the same answer.

Each item is created once (its entry key is unique) and routed by the routing
rules, whose first step is the account owner; an item that becomes due while
the run was off is still created, within ``CATCH_UP`` of its date.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from funnelflow.db.schema import UTCDateTime, accounts, leads, opportunities, sales_queue, touchpoints
from funnelflow.qualify import score
from funnelflow.qualify.rules import Rules
from funnelflow.sales import queue
from funnelflow.sales.hours import to_utc
from funnelflow.sales.routing import RouteResult, route_rows
from funnelflow.sales.team import SalesTeam

log = logging.getLogger(__name__)

CATCH_UP = timedelta(days=14)
UPSELL_WINDOW = timedelta(days=7)


def _lead_facts() -> list[sa.ColumnElement]:
    return [
        leads.c.id.label("lead_id"),
        leads.c.account_id,
        leads.c.fit_grade,
        sa.func.coalesce(leads.c.country, accounts.c.country).label("country"),
        accounts.c.employee_band,
        accounts.c.industry,
    ]


def _live() -> sa.ColumnElement[bool]:
    return sa.and_(leads.c.merged_into_id.is_(None), leads.c.erased_at.is_(None))


def _upsell_key(lead_id: int, at: datetime) -> str:
    year, week, _ = at.isocalendar()
    return f"upsell:{lead_id}:{year}-W{week:02d}"


def _engagement_total(
    rules: Rules, dialect: str, at: sa.BindParameter, customers: sa.Subquery
) -> sa.Subquery:
    """Per customer: the engagement score as of ``at`` (the scoring module's decayed sum of points)."""
    per_part = score.engagement_select(rules, dialect, at, customers).subquery()
    parts = [c for c in per_part.c if c.name.startswith(("t_", "p_"))]
    total = sum((sa.func.coalesce(c, 0.0) for c in parts), sa.literal(0.0))
    return sa.select(per_part.c.lead_id, total.label("score")).subquery()


def engagement_rises(conn: sa.Connection, rules: Rules, as_of: datetime, rise: float) -> list[dict[str, Any]]:
    """Live customers whose engagement score rose by at least ``rise`` over the last 7 days."""
    customers = (
        sa.select(leads.c.id.label("lead_id"))
        .where(leads.c.lifecycle_stage == "customer", _live())
        .subquery("customers")
    )
    dialect = conn.dialect.name
    now = _engagement_total(rules, dialect, sa.bindparam("rise_now", as_of, UTCDateTime()), customers)
    before = _engagement_total(
        rules, dialect, sa.bindparam("rise_before", as_of - UPSELL_WINDOW, UTCDateTime()), customers
    )
    gain = now.c.score - sa.func.coalesce(before.c.score, 0.0)
    stmt = (
        sa.select(*_lead_facts(), gain.label("rise"))
        .select_from(
            now.join(leads, leads.c.id == now.c.lead_id)
            .outerjoin(before, before.c.lead_id == now.c.lead_id)
            .outerjoin(accounts, accounts.c.id == leads.c.account_id)
        )
        .where(gain >= rise)
        .order_by(leads.c.id)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def due_items(
    conn: sa.Connection, team: SalesTeam, as_of: datetime, rules: Rules | None = None
) -> list[dict[str, Any]]:
    """The retention items due as of the run's time (entry keys not checked here: inserting skips known ones).

    ``rules``: the scoring rules, for the engagement-rise upsell signal (without them, only
    page visits make upsell items).
    """
    r = team.retention
    o = opportunities
    base = o.join(leads, leads.c.id == o.c.lead_id).outerjoin(accounts, accounts.c.id == leads.c.account_id)
    rows: list[dict[str, Any]] = []
    won = conn.execute(
        sa.select(o.c.id.label("opp_id"), o.c.closed_at, *_lead_facts())
        .select_from(base)
        .where(o.c.stage == "won", o.c.closed_at.is_not(None), _live())
    ).mappings()
    for w in won:
        for days in r.check_in_days:
            at = w["closed_at"] + timedelta(days=days)
            if at <= as_of < at + CATCH_UP:
                rows.append(
                    {**w, "kind": "check_in", "entry_key": f"check_in:{w['opp_id']}:{days}", "entered_at": at}
                )
    today = as_of.date()
    renewals = conn.execute(
        sa.select(o.c.id.label("opp_id"), o.c.renewal_date, *_lead_facts())
        .select_from(base)
        .where(
            o.c.stage == "won",
            o.c.renewal_date.is_not(None),
            o.c.renewal_date >= today,
            o.c.renewal_date <= today + timedelta(days=r.renewal_days_before),
            _live(),
        )
    ).mappings()
    for n in renewals:
        rows.append(
            {
                **n,
                "kind": "renewal",
                "entry_key": f"renewal:{n['opp_id']}:{n['renewal_date'].isoformat()}",
                "entered_at": as_of,
            }
        )
    if r.upsell_pages:
        t = touchpoints
        since = sa.bindparam("upsell_since", as_of - UPSELL_WINDOW, type_=UTCDateTime())
        until = sa.bindparam("upsell_until", as_of, type_=UTCDateTime())
        page_hit = sa.or_(*[t.c.page_url.contains(p, autoescape=True) for p in r.upsell_pages])
        visits = conn.execute(
            sa.select(sa.func.max(t.c.occurred_at).label("visited_at"), *_lead_facts())
            .select_from(
                t.join(leads, leads.c.id == t.c.lead_id).outerjoin(
                    accounts, accounts.c.id == leads.c.account_id
                )
            )
            .where(
                leads.c.lifecycle_stage == "customer",
                _live(),
                t.c.touch_type.in_(("page_view", "form_fill")),
                page_hit,
                t.c.occurred_at > since,
                t.c.occurred_at <= until,
            )
            .group_by(*_lead_facts())
        ).mappings()
        for v in visits:
            rows.append(
                {
                    **v,
                    "kind": "upsell",
                    "entry_key": _upsell_key(v["lead_id"], v["visited_at"]),
                    "entered_at": v["visited_at"],
                }
            )
    if rules is not None:
        seen = {row["entry_key"] for row in rows}
        for g in engagement_rises(conn, rules, as_of, r.upsell_engagement_rise):
            key = _upsell_key(g["lead_id"], as_of)
            if key not in seen:
                g.pop("rise")
                rows.append({**g, "kind": "upsell", "entry_key": key, "entered_at": as_of})
    return rows


def create_retention_items(
    engine: sa.Engine,
    team: SalesTeam,
    *,
    as_of: datetime,
    run_id: str | None = None,
    rules: Rules | None = None,
) -> RouteResult:
    """Queue and route the retention items due now; each once; one transaction under the routing lock.

    ``rules``: the scoring rules (``funnelflow.qualify.rules``) for the engagement-rise upsell.
    """
    as_of = to_utc(as_of)
    result = RouteResult(as_of)
    with engine.begin() as conn:
        queue.lock_routing(conn)
        queue.sync_reps(conn, team, as_of)
        rows = due_items(conn, team, as_of, rules)
        known = set(
            conn.execute(
                sa.select(sales_queue.c.entry_key).where(
                    sales_queue.c.entry_key.in_([r["entry_key"] for r in rows] or ["-"])
                )
            ).scalars()
        )
        fresh = [r for r in rows if r["entry_key"] not in known]
        if fresh:
            route_rows(conn, team, fresh, as_of=as_of, run_id=run_id, result=result)
    log.info("retention items: %s", result.summary())
    return result
