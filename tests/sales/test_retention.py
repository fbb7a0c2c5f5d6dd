"""Retention items: check-ins after a win, renewals before the date, upsell on pricing visits; each once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from funnelflow.db.schema import opportunities, sales_queue, touchpoints
from funnelflow.qualify.rules import load_rules
from funnelflow.sales.retention import create_retention_items
from funnelflow.sales.team import team_from_text
from tests.sales.factories import AS_OF, TEAM_YAML, add_account, add_sql_lead


def _items(engine):
    with engine.connect() as conn:
        return conn.execute(
            sa.select(
                sales_queue.c.entry_key,
                sales_queue.c.kind,
                sales_queue.c.rep_id,
                sales_queue.c.routing_reason,
            ).order_by(sales_queue.c.id)
        ).all()


def test_check_ins_renewals_and_upsell_go_to_the_account_owner_once(engine):
    team = team_from_text(TEAM_YAML)
    acct = add_account(engine, "cust.example", country="US")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into reps "
                "(id, name, email, team, timezone, capacity, active, in_team_file, synced_at) "
                "values ('marcus', 'M', 'm@example.com', 'amer', 'UTC', 5, true, true, :t)"
            ),
            {"t": AS_OF},
        )
        conn.execute(sa.text("update accounts set owner_rep_id = 'marcus' where id = :a"), {"a": acct})
    lead_id = add_sql_lead(engine, "c@cust.example", stage="customer", account_id=acct, country="DE")
    won_at = AS_OF - timedelta(days=30)
    with engine.begin() as conn:
        conn.execute(
            opportunities.insert().values(
                external_id="o1",
                lead_id=lead_id,
                account_id=acct,
                kind="new",
                stage="won",
                created_at=won_at - timedelta(days=10),
                closed_at=won_at,
                renewal_date=date(2027, 1, 15),
                synced_at=won_at,
            )
        )
        conn.execute(
            touchpoints.insert().values(
                lead_id=lead_id,
                occurred_at=AS_OF - timedelta(days=1),
                channel="web",
                touch_type="page_view",
                page_url="https://www.example.com/pricing",
            )
        )
    result = create_retention_items(engine, team, as_of=AS_OF)
    assert result.queued == 3
    got = _items(engine)
    assert {k for k, *_ in got} == {"check_in:1:30", "renewal:1:2027-01-15", "upsell:1:2026-W49"}
    assert {(rep, reason) for _, _, rep, reason in got} == {("marcus", "account_owner")}
    assert sorted(kind for _, kind, *_ in got) == ["check_in", "renewal", "upsell"]
    assert create_retention_items(engine, team, as_of=AS_OF + timedelta(hours=1)).queued == 0
    # 90 days after the win: the second check-in.
    later = create_retention_items(engine, team, as_of=won_at + timedelta(days=90, hours=1))
    assert "check_in:1:90" in {k for k, *_ in _items(engine)} and later.queued >= 1


def test_nothing_for_prospects(engine):
    team = team_from_text(TEAM_YAML)
    lead_id = add_sql_lead(engine, "p@x.example", country="US")
    with engine.begin() as conn:
        conn.execute(
            touchpoints.insert().values(
                lead_id=lead_id,
                occurred_at=datetime(2026, 11, 30, tzinfo=UTC),
                channel="web",
                touch_type="page_view",
                page_url="https://www.example.com/pricing",
            )
        )
    assert create_retention_items(engine, team, as_of=AS_OF).queued == 0


def _touches(engine, lead_id, touch_type, days_ago, n=1):
    with engine.begin() as conn:
        conn.execute(
            touchpoints.insert(),
            [
                {
                    "lead_id": lead_id,
                    "occurred_at": AS_OF - timedelta(days=days_ago, minutes=i),
                    "channel": "web",
                    "touch_type": touch_type,
                    "scored": True,
                }
                for i in range(n)
            ],
        )


def test_upsell_when_a_customers_engagement_rises_by_the_configured_amount_in_a_week(engine):
    rules = load_rules(
        Path(__file__).parents[2] / "config"
    )  # webinar_attended 15 points, email_click 4, half-life 30 days
    team = team_from_text(TEAM_YAML)
    rising = add_sql_lead(engine, "r@cust.example", stage="customer", country="US")
    _touches(engine, rising, "webinar_attended", days_ago=2, n=2)  # ~29 points this week
    slight = add_sql_lead(engine, "s@cust.example", stage="customer", country="US")
    _touches(engine, slight, "email_click", days_ago=1, n=3)  # ~12 points: under the rise of 20
    steady = add_sql_lead(engine, "o@cust.example", stage="customer", country="US")
    _touches(engine, steady, "webinar_attended", days_ago=20, n=6)  # high, but nothing new: it decays
    prospect = add_sql_lead(engine, "p@x.example", stage="mql", country="US")
    _touches(engine, prospect, "webinar_attended", days_ago=1, n=3)

    result = create_retention_items(engine, team, as_of=AS_OF, rules=rules)
    assert result.queued == 1
    assert [(k, kind, rep) for k, kind, rep, _ in _items(engine)] == [
        (f"upsell:{rising}:2026-W49", "upsell", "marcus")
    ]
    # the same week: nothing new
    assert create_retention_items(engine, team, as_of=AS_OF + timedelta(hours=2), rules=rules).queued == 0
    # without the scoring rules only page visits count
    with engine.begin() as conn:
        conn.execute(sales_queue.delete())
    assert create_retention_items(engine, team, as_of=AS_OF).queued == 0
    lower = team_from_text(TEAM_YAML + "retention: {upsell_engagement_rise: 10}\n")
    again = create_retention_items(engine, lower, as_of=AS_OF, rules=rules)
    assert again.queued == 2 and {k for k, *_ in _items(engine)} == {
        f"upsell:{rising}:2026-W49",
        f"upsell:{slight}:2026-W49",
    }
