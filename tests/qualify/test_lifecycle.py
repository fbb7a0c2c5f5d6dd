"""Every stage transition, each with its history row and reason; decay alone never moves a lead back."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from funnelflow import sql
from funnelflow.db.schema import UTCDateTime
from funnelflow.qualify.score import score_and_stage
from tests.factories import AS_OF, touch
from tests.qualify.factories import add_account, add_lead, history, lead_row


def _stage_and_reason(engine, lead_id):
    rows = history(engine, lead_id)
    return lead_row(engine, lead_id).lifecycle_stage, [(r[1], r[2], r[4].split(" @")[0]) for r in rows]


def test_each_forward_transition_records_its_rule(engine, rules):
    target = add_account(engine, "target.example", industry="Software", employee_band="51-200", region="EMEA")
    subscriber = add_lead(engine, "sub@gmail.com", lifecycle_stage="subscriber", email_free=True)
    touch(engine, subscriber, "webinar_registered", 1)  # ~8 + ~15 - 10 (free mail): a lead, not an MQL
    touch(engine, subscriber, "webinar_attended", 1)
    good_fit = add_lead(
        engine, "vp@target.example", account_id=target, seniority="vp", department="marketing"
    )
    hot = add_lead(
        engine, "dir@target.example", account_id=target, seniority="director", department="marketing"
    )
    touch(engine, hot, "page_view", 3, "https://www.example.com/pricing")
    demo = add_lead(engine, "student@gmail.com", email_free=True, seniority="student")
    touch(engine, demo, "form_fill", 2, "https://www.example.com/demo")
    competitor_acct = add_account(engine, "rival.example", competitor=True)
    rival = add_lead(engine, "spy@rival.example", account_id=competitor_acct)
    touch(engine, rival, "form_fill", 2, "https://www.example.com/demo")
    bounced = add_lead(engine, "nobody@target.example", email_status="invalid")
    deal = add_lead(
        engine, "buyer@target.example", account_id=target, lifecycle_stage="opportunity", seniority="vp"
    )

    result = score_and_stage(engine, rules, as_of=AS_OF, run_id="run-1")

    assert _stage_and_reason(engine, subscriber) == (
        "lead",
        [("subscriber", "lead", "lead:score_at_least_1")],
    )
    assert _stage_and_reason(engine, good_fit) == ("mql", [("lead", "mql", "mql:score_at_least_60")])
    assert _stage_and_reason(engine, hot) == ("sql", [("lead", "sql", "sql_rule:hot_mql")])
    assert _stage_and_reason(engine, demo) == ("sql", [("lead", "sql", "sql_rule:demo_request")])
    assert _stage_and_reason(engine, rival) == (
        "disqualified",
        [("lead", "disqualified", "disqualify:competitor")],
    )
    assert _stage_and_reason(engine, bounced) == (
        "disqualified",
        [("lead", "disqualified", "disqualify:invalid_email")],
    )
    assert _stage_and_reason(engine, deal) == ("opportunity", [])  # sales' stage: scoring never moves it
    assert lead_row(engine, good_fit).mql_since == AS_OF
    assert result.became_sql == 2
    assert all(r[3] == AS_OF and r[4].endswith(f"@{rules.version}") for r in history(engine))

    # The analysts' report over the same history.
    report = sql.load("qualify/stage_changes_by_rule").bindparams(
        sa.bindparam("since", type_=UTCDateTime()), sa.bindparam("until", type_=UTCDateTime())
    )
    with engine.connect() as conn:
        rows = conn.execute(
            report, {"since": AS_OF - timedelta(days=1), "until": AS_OF + timedelta(days=1)}
        ).all()
    by_move = {(r.from_stage, r.to_stage, r.rule.split(" @")[0]): r.leads for r in rows}
    assert by_move[("lead", "sql", "sql_rule:hot_mql")] == 1 and sum(by_move.values()) == 6


def test_decay_keeps_an_mql_until_the_recycle_rule_fires(engine, rules):
    lead_id = add_lead(engine, "ic@nowhere.example", seniority="individual_contributor")
    for _ in range(4):
        touch(engine, lead_id, "form_fill", 0, "https://www.example.com/contact")  # 4 x 10
    touch(engine, lead_id, "webinar_registered", 0)  # 8
    touch(engine, lead_id, "webinar_attended", 0)  # 15 -> 63 >= 60
    score_and_stage(engine, rules, as_of=AS_OF, scope="all")
    assert lead_row(engine, lead_id).lifecycle_stage == "mql"

    ten_days = AS_OF + timedelta(days=10)  # 63 * 2^(-1/3) = 50: under the bar, still an MQL
    score_and_stage(engine, rules, as_of=ten_days, scope="all")
    row = lead_row(engine, lead_id)
    assert (row.lifecycle_stage, row.below_threshold_since) == ("mql", ten_days)
    score_and_stage(engine, rules, as_of=AS_OF + timedelta(days=39), scope="all")  # under for 29 days
    assert lead_row(engine, lead_id).lifecycle_stage == "mql"

    score_and_stage(engine, rules, as_of=AS_OF + timedelta(days=41), scope="all")  # under for 31 days
    stage, moves = _stage_and_reason(engine, lead_id)
    assert stage == "recycled"
    assert moves == [
        ("lead", "mql", "mql:score_at_least_60"),
        ("mql", "recycled", "recycle:below_mql_threshold_30d"),
    ]
    assert lead_row(engine, lead_id).below_threshold_since is None

    # New engagement brings a recycled lead back to MQL.
    later = AS_OF + timedelta(days=42)
    for _ in range(6):
        touch(engine, lead_id, "form_fill", 0, "https://www.example.com/contact", as_of=later)
    score_and_stage(engine, rules, as_of=later)
    stage, moves = _stage_and_reason(engine, lead_id)
    assert stage == "mql" and moves[-1] == ("recycled", "mql", "mql:score_at_least_60")
    assert lead_row(engine, lead_id).mql_since == later


def test_an_mql_that_recovers_before_the_deadline_is_not_recycled(engine, rules):
    lead_id = add_lead(engine, "ic@nowhere.example")
    for _ in range(6):
        touch(engine, lead_id, "form_fill", 0, "https://www.example.com/contact")  # 60
    score_and_stage(engine, rules, as_of=AS_OF, scope="all")
    score_and_stage(engine, rules, as_of=AS_OF + timedelta(days=20), scope="all")
    assert lead_row(engine, lead_id).below_threshold_since == AS_OF + timedelta(days=20)
    touch(engine, lead_id, "form_fill", -25, "https://www.example.com/contact")
    touch(engine, lead_id, "webinar_attended", -25)
    touch(engine, lead_id, "webinar_attended", -25)  # 33.7 decayed + 40 new
    score_and_stage(engine, rules, as_of=AS_OF + timedelta(days=25), scope="all")
    row = lead_row(engine, lead_id)
    assert (row.lifecycle_stage, row.below_threshold_since) == ("mql", None)
    score_and_stage(engine, rules, as_of=AS_OF + timedelta(days=52), scope="all")
    assert lead_row(engine, lead_id).lifecycle_stage == "mql"  # its clock restarted at day 25+
