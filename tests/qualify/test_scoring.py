"""Scoring rule by rule, decay over weeks, breakdowns, idempotent reruns (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from funnelflow.qualify.score import score_and_stage
from tests.factories import AS_OF, count, touch
from tests.qualify.factories import add_account, add_lead, history, lead_row, rules_with

CASES = {
    "vp_marketing_at_target_company": (
        dict(seniority="vp", department="marketing"),
        dict(industry="Software", employee_band="51-200", region="EMEA"),
        {
            "exec_buyer": 25,
            "buying_department": 15,
            "target_industry": 15,
            "mid_market": 20,
            "core_region": 10,
        },
        "A",
    ),
    "director_at_enterprise": (
        dict(seniority="director", department="engineering"),
        dict(industry="Manufacturing", employee_band="5001+", region="APAC"),
        {"director": 20, "enterprise": 15},
        "C",
    ),
    "manager_in_sales_na": (
        dict(seniority="manager", department="sales"),
        dict(region="NA", employee_band="11-50"),
        {"manager": 10, "buying_department": 15, "core_region": 10},
        "C",
    ),
    "student_on_free_mail": (
        dict(seniority="student", email_free=True),
        None,
        {"student": -30, "free_mail": -10},
        "D",
    ),
    "competitor": (
        dict(seniority="c_level", department="executive"),
        dict(competitor=True, region="EMEA"),
        {"exec_buyer": 25, "buying_department": 15, "core_region": 10, "competitor": -100},
        "D",
    ),
    "disposable_role_mailbox": (
        dict(email_disposable=True, email_role=True),
        None,
        {"disposable_mail": -50, "role_mailbox": -5},
        "D",
    ),
}


def test_each_fit_rule_fires_with_its_points(engine, rules):
    ids = {}
    for case, (lead_values, account_values, _, _) in CASES.items():
        domain = f"{case.replace('_', '-')}.example"
        account_id = add_account(engine, domain, **account_values) if account_values else None
        ids[case] = add_lead(engine, f"p@{domain}", account_id=account_id, **lead_values)
    score_and_stage(engine, rules, as_of=AS_OF, scope="all")
    for case, (_, _, fired, grade) in CASES.items():
        row = lead_row(engine, ids[case])
        assert row.score_breakdown["fit"] == fired, case
        assert (row.fit_score, row.fit_grade) == (sum(fired.values()), grade), case
        assert row.score_breakdown["v"] == rules.version


def test_engagement_points_per_touch_type_and_high_intent_page(engine, rules):
    lead_id = add_lead(engine, "p@acme.example")
    touch(engine, lead_id, "form_fill", 0, "https://www.example.com/demo?utm=x")
    touch(engine, lead_id, "page_view", 0, "https://www.example.com/pricing")
    touch(engine, lead_id, "email_click", 0, None, detail={"url": "https://www.example.com/pricing#plans"})
    touch(engine, lead_id, "email_open", 0, scored=False)  # a machine open: kept, not scored
    touch(engine, lead_id, "webinar_attended", 0)
    touch(engine, lead_id, "page_view", -1, "https://www.example.com/pricing")  # after as-of: not yet
    score_and_stage(engine, rules, as_of=AS_OF, scope="all")
    row = lead_row(engine, lead_id)
    assert row.score_breakdown["engagement"] == {
        "form_fill": 10,
        "page_view": 1,
        "email_click": 4,
        "webinar_attended": 15,
        "demo_request": 40,
        "pricing_page": 20,
    }
    assert row.engagement_score == pytest.approx(90)


def test_engagement_decays_with_the_configured_half_life_over_weeks(engine):
    rules = rules_with(("half_life_days: 30", "half_life_days: 14"))
    lead_id = add_lead(engine, "p@acme.example")
    touch(engine, lead_id, "webinar_attended", 0)  # 15 points at as-of
    for weeks in (0, 1, 2, 4, 8):
        score_and_stage(engine, rules, as_of=AS_OF + timedelta(weeks=weeks), scope="all")
        row = lead_row(engine, lead_id)
        assert row.engagement_score == pytest.approx(15 * 0.5 ** (weeks / 2), abs=0.01), weeks
        assert row.score_breakdown["engagement"]["webinar_attended"] == pytest.approx(row.engagement_score)


def test_a_lead_with_nothing_but_an_email_is_scored_and_stays_a_lead(engine, rules):
    from funnelflow.qualify.enrich import ReferenceProvider, enrich_leads
    from funnelflow.qualify.normalize import normalize_leads

    lead_id = add_lead(engine, "someone@nowhere-known.example")
    normalize_leads(engine)
    enrich_leads(engine, ReferenceProvider(), as_of=AS_OF)
    result = score_and_stage(engine, rules, as_of=AS_OF)
    row = lead_row(engine, lead_id)
    assert (row.fit_score, row.fit_grade, row.engagement_score, row.lifecycle_stage) == (0, "D", 0, "lead")
    assert row.score_breakdown == {"v": rules.version, "fit": {}, "engagement": {}}
    assert (row.email_status, row.email_free, row.account_id) == ("valid", False, None)
    assert result.transitions == {} and history(engine) == []


def test_rerun_of_the_same_run_changes_nothing_and_a_run_with_nothing_new_writes_no_history(engine, rules):
    lead_id = add_lead(engine, "p@acme.example", lifecycle_stage="subscriber")
    touch(engine, lead_id, "form_fill", 1, "https://www.example.com/demo")
    first = score_and_stage(engine, rules, as_of=AS_OF, run_id="run-1")
    assert first.updated == 1 and first.became_sql == 1
    before = lead_row(engine, lead_id)
    again = score_and_stage(engine, rules, as_of=AS_OF, run_id="run-1")
    assert again.updated == 0 and again.transitions == {}
    assert lead_row(engine, lead_id) == before
    later = score_and_stage(engine, rules, as_of=AS_OF + timedelta(hours=1), run_id="run-2")
    assert later.considered == 0 and later.transitions == {}
    assert count(engine, "lifecycle_history") == 1


def test_one_pass_writes_leads_that_change_stage_and_leads_that_keep_it_once_each(engine, rules):
    # Every lead whose values differ is written once, whether its stage moves or stays.
    mover = add_lead(engine, "mover@acme.example", lifecycle_stage="subscriber")
    touch(engine, mover, "form_fill", 1, "https://www.example.com/demo")
    stayer = add_lead(engine, "stayer@acme.example", seniority="vp")
    kept_changed_at = lead_row(engine, stayer).lifecycle_changed_at
    result = score_and_stage(engine, rules, as_of=AS_OF, scope="all", run_id="run-1")
    assert result.considered == 2 and result.updated == 2
    assert result.transitions == {("subscriber", "sql"): 1}
    moved, stayed = lead_row(engine, mover), lead_row(engine, stayer)
    assert (moved.lifecycle_stage, moved.lifecycle_changed_at, moved.scored_at) == ("sql", AS_OF, AS_OF)
    assert (stayed.lifecycle_stage, stayed.fit_score, stayed.scored_at) == ("lead", 25, AS_OF)
    assert stayed.lifecycle_changed_at == kept_changed_at
    assert [h[:3] for h in history(engine)] == [(mover, "subscriber", "sql")]
    assert score_and_stage(engine, rules, as_of=AS_OF, scope="all", run_id="run-1").updated == 0


def test_only_changed_or_touched_leads_are_rescored(engine, rules):
    quiet = add_lead(engine, "quiet@acme.example")
    busy = add_lead(engine, "busy@acme.example")
    score_and_stage(engine, rules, as_of=AS_OF)
    touch(engine, busy, "form_fill", 0, "https://www.example.com/contact", as_of=AS_OF + timedelta(days=1))
    result = score_and_stage(engine, rules, as_of=AS_OF + timedelta(days=1))
    assert result.considered == 1
    assert lead_row(engine, busy).engagement_score == pytest.approx(10)
    assert lead_row(engine, quiet).scored_at == AS_OF
