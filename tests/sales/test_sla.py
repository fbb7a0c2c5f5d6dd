"""The SLA sweep: reminder at half time, escalation at the breach, reassignment after more; each once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from funnelflow.db.schema import sales_queue, sales_queue_history
from funnelflow.sales.routing import route
from funnelflow.sales.sla import sweep
from funnelflow.sales.team import team_from_text
from tests.sales.factories import AS_OF, TEAM_YAML, add_sql_lead


@pytest.fixture
def team():
    return team_from_text(TEAM_YAML)


def item(engine):
    with engine.connect() as conn:
        return conn.execute(sa.select(sales_queue)).mappings().one()


def test_remind_escalate_reassign_in_business_hours(engine, team):
    # Grade A, country AT, no segment: jonas at the `country` step. Assigned Tue 11:00 Berlin: due 15:00
    # Berlin.
    add_sql_lead(engine, "a@x.example", country="AT", fit_grade="A")
    route(engine, team, as_of=AS_OF)
    assert item(engine)["rep_id"] == "jonas"

    before_half = sweep(engine, team, as_of=datetime(2026, 12, 1, 11, 59, tzinfo=UTC))
    assert before_half.summary()["reminded"] == 0
    half = sweep(engine, team, as_of=datetime(2026, 12, 1, 12, 0, tzinfo=UTC), run_id="s1")
    assert half.reminded == 1
    assert sweep(engine, team, as_of=datetime(2026, 12, 1, 12, 5, tzinfo=UTC)).reminded == 0  # once

    breach = sweep(engine, team, as_of=datetime(2026, 12, 1, 14, 0, tzinfo=UTC))
    assert breach.escalated == 1
    row = item(engine)
    assert (row["sla_outcome"], row["escalated_at"]) == ("breached", datetime(2026, 12, 1, 14, tzinfo=UTC))
    assert sweep(engine, team, as_of=datetime(2026, 12, 1, 14, 5, tzinfo=UTC)).escalated == 0

    # Reassignment 8 business hours after the breach: Wed 15:00 Berlin (14:00 UTC), not a minute before.
    assert sweep(engine, team, as_of=datetime(2026, 12, 2, 13, 59, tzinfo=UTC)).reassigned == []
    moved = sweep(engine, team, as_of=datetime(2026, 12, 2, 14, 0, tzinfo=UTC))
    assert len(moved.reassigned) == 1
    row = item(engine)
    assert row["rep_id"] == "lena"  # the next eligible rep at the country step, never jonas again
    assert row["routing_reason"] == "reassigned:country"
    assert row["escalated_at"] is None and row["reminded_at"] is None
    # 4 business hours from Wed 15:00 Berlin: 2 h on Wednesday, 2 h on Thursday -> Thu 11:00 Berlin.
    assert row["due_at"] == datetime(2026, 12, 3, 10, tzinfo=UTC)
    with engine.connect() as conn:
        actions = (
            conn.execute(sa.select(sales_queue_history.c.action).order_by(sales_queue_history.c.id))
            .scalars()
            .all()
        )
    assert actions == ["assigned", "reminded", "escalated", "reassigned"]


def test_an_item_acted_on_is_left_alone(engine, team):
    add_sql_lead(engine, "a@x.example", country="US", fit_grade="A")
    route(engine, team, as_of=AS_OF)
    with engine.begin() as conn:
        conn.execute(sales_queue.update().values(first_action_at=AS_OF, status="accepted"))
    result = sweep(engine, team, as_of=AS_OF + timedelta(days=10))
    assert (
        result.summary()["reminded"] == result.summary()["escalated"] == result.summary()["reassigned"] == 0
    )


def test_reassignment_with_nobody_else_eligible_stays(engine, team):
    alone = team_from_text(
        TEAM_YAML.replace("capacity: 2", "capacity: 0").replace("capacity: 3", "capacity: 0")
    )
    add_sql_lead(engine, "a@x.example", country="US")
    route(engine, alone, as_of=AS_OF)
    result = sweep(engine, alone, as_of=AS_OF + timedelta(days=30))
    assert result.reassign_waiting == 1 and item(engine)["rep_id"] == "marcus"
