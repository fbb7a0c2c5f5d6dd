"""The demo's past weeks (funnelflow.synth.history): real scoring, routing, feedback, deals, in time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from funnelflow.db.schema import (
    lifecycle_history,
    opportunities,
    sales_queue,
    sales_queue_history,
    touchpoints,
)
from funnelflow.qualify.rules import load_active_rules
from funnelflow.sales.team import team_from_text
from funnelflow.synth.history import build_history
from tests.metrics.helpers import add_lead
from tests.metrics.test_sales_webinars import TEAM_FILE

UNTIL = datetime(2026, 11, 23, 12, tzinfo=UTC)
WEEKS = 4  # replays UNTIL - 3, 2 and 1 weeks


def _demo_requests(conn, n: int = 40) -> dict[int, datetime]:
    """n leads, each arriving with a demo request (straight to SQL by config/sales_rules.yaml)."""
    arrived = {}
    for lead_id in range(1, n + 1):
        add_lead(conn, lead_id)
        at = UNTIL - timedelta(weeks=WEEKS) + timedelta(hours=13 * lead_id)  # spread over ~3 weeks
        conn.execute(
            touchpoints.insert().values(
                lead_id=lead_id,
                occurred_at=at,
                channel="web_form",
                touch_type="form_fill",
                source="website",
                page_url="https://example.com/demo",
            )
        )
        arrived[lead_id] = at
    return arrived


def test_history_moves_leads_in_their_own_weeks_and_never_before_they_arrived(engine):
    with engine.begin() as conn:
        arrived = _demo_requests(conn)
    team = team_from_text(TEAM_FILE, "sales_team.yaml")
    result = build_history(engine, team, load_active_rules(engine).rules, seed=42, until=UNTIL, weeks=WEEKS)
    replays = [UNTIL - timedelta(weeks=k) for k in (3, 2, 1)]
    assert [w.as_of for w in result.weeks] == replays

    with engine.connect() as conn:
        changes = conn.execute(sa.select(lifecycle_history)).mappings().all()
        items = conn.execute(sa.select(sales_queue)).mappings().all()
        actions = conn.execute(sa.select(sales_queue_history.c.at)).scalars().all()
        deals = conn.execute(sa.select(opportunities)).mappings().all()
    sql_entries = [c for c in changes if c["to_stage"] == "sql"]
    # Scored at each replay time, only the leads that had arrived: SQL entries at replay times,
    # never before the lead's demo request, and spread over more than one week.
    assert sql_entries and {c["changed_at"] for c in sql_entries} <= set(replays)
    assert all(c["changed_at"] >= arrived[c["lead_id"]] for c in changes)
    assert len({c["changed_at"] for c in sql_entries}) >= 2
    assert sum(w.became_sql for w in result.weeks) == len(sql_entries)
    # The SQLs became handoffs, routed at their replay times; nothing happened after UNTIL.
    handoffs = [i for i in items if i["kind"] == "handoff"]
    assert 0 < len(handoffs) == sum(w.routed for w in result.weeks) <= len(sql_entries)
    assert all(i["assigned_at"] in replays for i in handoffs if i["assigned_at"] is not None)
    assert max(actions) < UNTIL and all(c["changed_at"] < UNTIL for c in changes)
    # Feedback and deals went through the sales modules: outcomes recorded, customers from won deals.
    assert sum(w.accepted for w in result.weeks) == sum(1 for i in handoffs if i["first_action_at"]) - sum(
        w.rejected for w in result.weeks
    )
    won = {d["lead_id"] for d in deals if d["stage"] == "won" and d["kind"] == "new"}
    customers = {c["lead_id"] for c in changes if c["to_stage"] == "customer"}
    assert won and won == customers
