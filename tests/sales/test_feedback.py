"""Rep feedback: accept, reject -> recycled with the reason, and the cooldown that scoring respects."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from funnelflow.db.schema import leads, lifecycle_history, sales_queue
from funnelflow.qualify.rules import load_rules
from funnelflow.qualify.score import score_and_stage
from funnelflow.sales.feedback import accept, reject
from funnelflow.sales.routing import route
from funnelflow.sales.team import team_from_text
from tests.factories import REPO, touch
from tests.sales.factories import AS_OF, TEAM_YAML, add_sql_lead


@pytest.fixture
def team():
    return team_from_text(TEAM_YAML)


def _item(engine):
    with engine.connect() as conn:
        return conn.execute(sa.select(sales_queue)).mappings().one()


def _stage(engine, lead_id):
    with engine.connect() as conn:
        return conn.execute(sa.select(leads.c.lifecycle_stage).where(leads.c.id == lead_id)).scalar_one()


def test_accept_records_the_first_action_and_met_sla_once(engine, team):
    add_sql_lead(engine, "a@x.example", country="US", fit_grade="A")
    route(engine, team, as_of=AS_OF)
    item_id = _item(engine)["id"]
    at = AS_OF + timedelta(hours=1)
    assert accept(engine, item_id, at=at, actor="rep:marcus").status == "done"
    assert accept(engine, item_id, at=at + timedelta(hours=9), actor="rep:marcus").status == "already"
    row = _item(engine)
    assert (row["status"], row["first_action_at"], row["sla_outcome"]) == ("accepted", at, "met")
    assert accept(engine, 999_999, at=at, actor="rep:x").status == "unknown"


def test_reject_recycles_the_lead_with_the_reason_and_late_action_is_breached(engine, team):
    lead_id = add_sql_lead(engine, "a@x.example", country="US", fit_grade="A")
    route(engine, team, as_of=AS_OF)
    item_id = _item(engine)["id"]
    assert (
        reject(engine, item_id, "free text", at=AS_OF, actor="rep:marcus", cooldown_days=30).status
        == "invalid_reason"
    )
    at = AS_OF + timedelta(days=3)
    assert reject(engine, item_id, "no_budget", at=at, actor="rep:marcus", cooldown_days=30).status == "done"
    assert reject(engine, item_id, "other", at=at, actor="rep:marcus", cooldown_days=30).status == "already"
    row = _item(engine)
    assert (row["status"], row["outcome_reason"], row["sla_outcome"], row["closed_at"]) == (
        "rejected",
        "no_budget",
        "breached",
        at,
    )
    with engine.connect() as conn:
        lead = conn.execute(sa.select(leads).where(leads.c.id == lead_id)).mappings().one()
        last = (
            conn.execute(
                sa.select(lifecycle_history)
                .where(lifecycle_history.c.lead_id == lead_id)
                .order_by(lifecycle_history.c.id.desc())
            )
            .mappings()
            .first()
        )
    assert lead["lifecycle_stage"] == "recycled"
    assert lead["recycle_cooldown_until"] == at + timedelta(days=30)
    assert (last["from_stage"], last["to_stage"]) == ("sql", "recycled")
    assert last["reason"].startswith("sales_rejected:no_budget")


def test_scoring_respects_the_cooldown_unless_high_intent_comes_after(engine, team):
    rules = load_rules(REPO / "config")
    lead_id = add_sql_lead(engine, "a@x.example", country="US", fit_grade="A")
    touch(engine, lead_id, "form_fill", 0, "https://www.example.com/demo", as_of=AS_OF - timedelta(days=1))
    route(engine, team, as_of=AS_OF)
    reject(engine, _item(engine)["id"], "not_a_fit", at=AS_OF, actor="rep:marcus", cooldown_days=30)

    # The demo request before the rejection would make it an SQL again (demo_request, 14 days): the cooldown
    # holds.
    score_and_stage(engine, rules, as_of=AS_OF + timedelta(days=2))
    assert _stage(engine, lead_id) == "recycled"
    # A new demo request after the rejection is high intent again: SQL.
    touch(engine, lead_id, "form_fill", 0, "https://www.example.com/demo", as_of=AS_OF + timedelta(days=3))
    score_and_stage(engine, rules, as_of=AS_OF + timedelta(days=3, hours=1))
    assert _stage(engine, lead_id) == "sql"


def test_after_the_cooldown_the_old_rules_apply_again(engine, team):
    rules = load_rules(REPO / "config")
    lead_id = add_sql_lead(engine, "a@x.example", country="US", fit_grade="A")
    route(engine, team, as_of=AS_OF)
    reject(engine, _item(engine)["id"], "no_budget", at=AS_OF, actor="rep:marcus", cooldown_days=1)
    # A demo request before the rejection, still within the rule's 14 days once the 1-day cooldown is over.
    touch(engine, lead_id, "form_fill", 0, "https://www.example.com/demo", as_of=AS_OF - timedelta(hours=1))
    score_and_stage(engine, rules, as_of=AS_OF + timedelta(hours=12))
    assert _stage(engine, lead_id) == "recycled"
    score_and_stage(engine, rules, as_of=AS_OF + timedelta(days=2), scope="all")
    assert _stage(engine, lead_id) == "sql"


def test_rejection_reasons_by_source_and_campaign_for_the_weekly_report(engine, team):
    from funnelflow import settings
    from funnelflow.db.schema import UTCDateTime

    lead_id = add_sql_lead(engine, "a@x.example", country="US", original_source="tradeshow")
    touch(engine, lead_id, "form_fill", 1, "https://www.example.com/demo", as_of=AS_OF)
    with engine.begin() as conn:
        conn.execute(sa.text("update touchpoints set campaign = 'berlin-2026'"))
    route(engine, team, as_of=AS_OF)
    reject(
        engine,
        _item(engine)["id"],
        "no_budget",
        at=AS_OF + timedelta(hours=1),
        actor="rep:marcus",
        cooldown_days=30,
    )
    sql = (settings.REPO_ROOT / "include" / "sql" / "sales_rejections_by_source.sql").read_text()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(sql).bindparams(
                sa.bindparam("week_start", type_=UTCDateTime()), sa.bindparam("week_end", type_=UTCDateTime())
            ),
            {"week_start": AS_OF - timedelta(days=7), "week_end": AS_OF + timedelta(days=7)},
        ).all()
    assert [tuple(r) for r in rows] == [("tradeshow", "berlin-2026", "no_budget", 1)]


def test_every_reject_reason_has_the_label_reps_and_the_report_show():
    from funnelflow.db.schema import REJECT_REASONS
    from funnelflow.sales.feedback import REJECT_REASON_LABELS

    assert list(REJECT_REASON_LABELS) == list(REJECT_REASONS)
