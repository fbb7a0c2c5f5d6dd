"""Every figure against hand-computed fixtures, on SQLite and PostgreSQL (README "Funnel metrics")."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import sqlalchemy as sa

from funnelflow.db.schema import (
    email_events,
    email_sends,
    email_weekly,
    funnel_cohorts,
    funnel_velocity,
    funnel_weekly,
    metrics_weeks,
)
from funnelflow.metrics.compute import COMPUTED_TABLES, compute_weeks
from funnelflow.metrics.weeks import Week
from tests.metrics.helpers import EMAIL_FIGURES, add_lead, add_stage, add_touch, at, compute, rows
from tests.metrics.helpers import WEEK as WEEK_NAME

FIGURES = ("new_leads", "mql", "sql", "opportunity", "customer", "recycled", "disqualified")


def volumes(engine, week_start=None) -> dict[tuple[str, str], tuple[int, ...]]:
    out = {}
    for r in rows(engine, funnel_weekly):
        if week_start is None or r["week_start"] == week_start:
            out[(r["dimension"], r["value"])] = tuple(r[f] for f in FIGURES)
            assert (r["accepted"], r["rejected"], r["won_revenue"]) == (0, 0, 0)  # no sales data here
    return out


def test_volumes_by_origin_with_merged_leads_and_ties(engine):
    with engine.begin() as conn:
        for lead_id in (1, 3, 4, 6, 7, 8):
            add_lead(conn, lead_id)
        add_lead(conn, 2, merged_into=1)
        add_lead(conn, 5, merged_into=4)
        add_touch(conn, 1, at(17, 10), "web_form", source="website", campaign="spring")
        # The merged lead's touch is earlier: lead 1's origin is ad_form / linkedin / (none).
        add_touch(conn, 2, at(16, 9), "ad_form", touch_type="ad_lead", source="linkedin")
        # A tie on occurred_at: the lower id wins, whatever the insertion order.
        add_touch(conn, 3, at(18, 8), "web_form", touch_id=901)
        add_touch(
            conn,
            3,
            at(18, 8),
            "file_import",
            touch_type="import",
            source="tradeshow",
            campaign="berlin",
            touch_id=900,
        )
        add_touch(conn, 4, at(9), "web_form", source="website")  # first touch the week before
        add_stage(conn, 4, "mql", at(18))
        add_stage(conn, 4, "mql", at(19))  # twice in the week: one lead
        add_stage(conn, 5, "mql", at(18))  # the merged lead's row is lead 4's
        add_stage(conn, 4, "sql", at(20))
        add_stage(conn, 1, "mql", at(19))
        add_stage(conn, 2, "sql", at(20))  # counts for lead 1
        add_stage(conn, 6, "disqualified", at(21))  # no touch at all: origin (none)
        add_touch(conn, 7, at(1), "email", touch_type="email_click", source="sendgrid", campaign="nurture")
        add_stage(conn, 7, "recycled", at(22, 23, 59))
        add_touch(conn, 8, at(23, 0), "web_form")  # Monday 00:00: next week
        add_stage(conn, 8, "mql", at(15, 23, 59))  # Sunday before: last week
    compute(engine)
    assert volumes(engine) == {
        #                        new  mql sql opp cus rec dis
        ("all", "all"): (2, 2, 2, 0, 0, 1, 1),
        ("channel", "ad_form"): (1, 1, 1, 0, 0, 0, 0),
        ("channel", "file_import"): (1, 0, 0, 0, 0, 0, 0),
        ("channel", "web_form"): (0, 1, 1, 0, 0, 0, 0),
        ("channel", "email"): (0, 0, 0, 0, 0, 1, 0),
        ("channel", "(none)"): (0, 0, 0, 0, 0, 0, 1),
        ("source", "linkedin"): (1, 1, 1, 0, 0, 0, 0),
        ("source", "tradeshow"): (1, 0, 0, 0, 0, 0, 0),
        ("source", "website"): (0, 1, 1, 0, 0, 0, 0),
        ("source", "sendgrid"): (0, 0, 0, 0, 0, 1, 0),
        ("source", "(none)"): (0, 0, 0, 0, 0, 0, 1),
        ("campaign", "(none)"): (1, 2, 2, 0, 0, 0, 1),
        ("campaign", "berlin"): (1, 0, 0, 0, 0, 0, 0),
        ("campaign", "nurture"): (0, 0, 0, 0, 0, 1, 0),
    }


def test_merge_chains_pass_their_leads_to_the_last_survivor(engine):
    with engine.begin() as conn:
        add_lead(conn, 30)
        add_lead(conn, 20, merged_into=30)
        add_lead(conn, 10, merged_into=20)
        add_touch(conn, 30, at(18), "web_form")
        add_touch(conn, 10, at(17), "webinar", touch_type="webinar_registered")
        add_stage(conn, 10, "mql", at(19))
    compute(engine)
    assert volumes(engine)[("channel", "webinar")] == (1, 1, 0, 0, 0, 0, 0)
    assert volumes(engine)[("all", "all")] == (1, 1, 0, 0, 0, 0, 0)


def test_week_boundaries_follow_the_report_time_zone(engine):
    berlin = ZoneInfo("Europe/Berlin")  # W47 there: 2026-11-15 23:00 UTC .. 2026-11-22 23:00 UTC
    with engine.begin() as conn:
        for lead_id in (1, 2, 3, 4):
            add_lead(conn, lead_id)
        add_touch(conn, 1, at(15, 23, 30), "c_monday_0030_berlin")
        add_touch(conn, 2, at(22, 23, 0), "c_next_monday_0000_berlin")
        add_touch(conn, 3, at(15, 22, 59), "c_sunday_2359_berlin")
        add_touch(conn, 4, at(1), "c_early")
        add_stage(conn, 4, "mql", at(22, 22, 59))
    week = compute(engine, tz=berlin)
    got = {k[1]: v for k, v in volumes(engine, week.start).items() if k[0] == "channel"}
    assert got == {"c_monday_0030_berlin": (1, 0, 0, 0, 0, 0, 0), "c_early": (0, 1, 0, 0, 0, 0, 0)}
    with engine.connect() as conn:
        bounds = conn.execute(sa.select(metrics_weeks)).one()
    assert (bounds.iso_week, bounds.timezone) == ("2026-W47", "Europe/Berlin")
    assert bounds.starts_at == at(15, 23) and bounds.ends_at == at(22, 23)
    # The same data in UTC puts other leads in the week.
    compute(engine, tz=ZoneInfo("UTC"))
    got = {k[1] for k, v in volumes(engine, week.start).items() if k[0] == "channel" and v[0]}
    assert got == {"c_next_monday_0000_berlin"}


def test_velocity_counts_first_entries_and_interpolates_percentiles_linearly(engine):
    lead_mql_days = [1, 2, 3.5, 4, 10]
    with engine.begin() as conn:
        for i, days in enumerate(lead_mql_days):
            lead_id = 10 + i
            add_lead(conn, lead_id)
            add_touch(conn, lead_id, at(17) - timedelta(days=days))
            add_stage(conn, lead_id, "mql", at(17))
        add_stage(conn, 10, "sql", at(19))  # mql -> sql: 2 days
        add_stage(conn, 11, "sql", at(19))  # 2 days
        for lead_id in (15, 16, 17, 18, 19):
            add_lead(conn, lead_id)
        add_touch(conn, 15, at(1))
        add_stage(conn, 15, "mql", at(10))  # first entry the week before ...
        add_stage(conn, 15, "mql", at(18))  # ... so this re-entry is not a transition of this week
        add_stage(conn, 16, "mql", at(18))  # no touch: never entered the earlier stage
        add_touch(conn, 17, at(20))
        add_stage(conn, 17, "mql", at(18))  # its earliest touch comes after: not counted
        add_touch(conn, 18, at(1))
        add_stage(conn, 18, "mql", at(5))
        add_stage(conn, 18, "sql", at(20))  # mql -> sql: 15 days
        add_touch(conn, 19, at(1))
        add_stage(conn, 19, "sql", at(20))  # never an MQL: not in mql_sql
    compute(engine)
    got = {r["transition"]: r for r in rows(engine, funnel_velocity)}
    assert set(got) == {"lead_mql", "mql_sql", "sql_opportunity", "opportunity_customer"}
    assert got["lead_mql"]["leads"] == 5
    assert got["lead_mql"]["median_days"] == pytest.approx(3.5, abs=1e-6)
    assert got["lead_mql"]["p90_days"] == pytest.approx(7.6, abs=1e-6)  # 4 + 0.6 * (10 - 4)
    assert got["lead_mql"]["p90_days"] == pytest.approx(np.percentile(lead_mql_days, 90), abs=1e-6)
    assert got["mql_sql"]["leads"] == 3
    assert got["mql_sql"]["median_days"] == pytest.approx(2, abs=1e-6)
    assert got["mql_sql"]["p90_days"] == pytest.approx(12.4, abs=1e-6)  # 2 + 0.8 * (15 - 2)
    assert (got["sql_opportunity"]["leads"], got["sql_opportunity"]["median_days"]) == (0, None)


def test_cohorts_count_stages_reached_by_the_end_of_the_report_week(engine):
    with engine.begin() as conn:
        for lead_id in (1, 2, 3, 4):
            add_lead(conn, lead_id)
        add_touch(conn, 1, at(10), "web_form")
        add_stage(conn, 1, "mql", at(12))
        add_stage(conn, 1, "sql", at(20))
        add_stage(conn, 1, "customer", at(25))  # after the report week: not yet
        add_touch(conn, 2, at(11), "ad_form")
        add_stage(conn, 2, "sql", at(21))  # straight to SQL: it passed MQL
        add_touch(conn, 3, at(17), "web_form")
        add_touch(conn, 4, at(26, month=8), "web_form")  # week 35: older than the 12 cohorts shown
    week = compute(engine)
    got = {
        (r["cohort_week_start"].isoformat(), r["dimension"], r["value"]): (
            r["leads"],
            r["mql"],
            r["sql"],
            r["customer"],
        )
        for r in rows(engine, funnel_cohorts)
    }
    assert all(r["week_start"] == week.start for r in rows(engine, funnel_cohorts))
    assert got == {
        ("2026-11-09", "all", "all"): (2, 2, 2, 0),
        ("2026-11-09", "channel", "web_form"): (1, 1, 1, 0),
        ("2026-11-09", "channel", "ad_form"): (1, 1, 1, 0),
        ("2026-11-09", "source", "website"): (2, 2, 2, 0),
        ("2026-11-09", "campaign", "(none)"): (2, 2, 2, 0),
        ("2026-11-16", "all", "all"): (1, 0, 0, 0),
        ("2026-11-16", "channel", "web_form"): (1, 0, 0, 0),
        ("2026-11-16", "source", "website"): (1, 0, 0, 0),
        ("2026-11-16", "campaign", "(none)"): (1, 0, 0, 0),
    }


def _send(conn, send_id, campaign, sent_at, status="sent", kind="marketing"):
    conn.execute(
        email_sends.insert().values(
            id=send_id,
            message_key=f"m{send_id}",
            recipient_hash=f"h{send_id}",
            campaign_id=campaign,
            template="t",
            kind=kind,
            status=status,
            claimed_at=sent_at or at(1),
            sent_at=sent_at,
        )
    )


def _event(conn, event_id, event, send_id, when, machine_open=False):
    conn.execute(
        email_events.insert().values(
            sg_event_id=event_id, event=event, send_id=send_id, occurred_at=when, machine_open=machine_open
        )
    )


def test_email_figures_are_unique_per_send_and_leave_machines_out(engine):
    with engine.begin() as conn:
        add_lead(conn, 1)
        _send(conn, 1, "nl-11", at(17))
        _send(conn, 2, "nl-11", at(18))
        _send(conn, 3, "nl-11", at(10))  # sent last week
        _send(conn, 4, None, at(19), kind="transactional")
        _send(conn, 5, "nl-11", None, status="skipped")
        _event(conn, "d1", "delivered", 1, at(17))
        _event(conn, "d1b", "delivered", 1, at(17, 13))  # a second delivered event for the same send
        _event(conn, "d2", "delivered", 2, at(18))
        _event(conn, "d3", "delivered", 3, at(16))  # last week's send, delivered this week
        _event(conn, "o1", "open", 1, at(17), machine_open=True)
        _event(conn, "o2", "open", 2, at(18))
        _event(conn, "o2b", "open", 2, at(19))
        _event(conn, "o3", "open", 3, at(24))  # next week
        _event(conn, "c1", "click", 1, at(18))
        add_touch(conn, 1, at(18), "email", touch_type="email_click", source_ref="sendgrid:c1")
        _event(conn, "c2", "click", 2, at(18))  # a scanner: kept, not scored
        add_touch(conn, 1, at(18), "email", touch_type="email_click", scored=False, source_ref="sendgrid:c2")
        _event(conn, "c2b", "click", 2, at(18))  # never processed into a touch
        _event(conn, "u1", "unsubscribe", 1, at(19))
        _event(conn, "u2", "group_unsubscribe", 2, at(19))
        _event(conn, "s2", "spamreport", 2, at(20))
        _event(conn, "b4", "bounce", 4, at(19))
        _event(conn, "x", "delivered", 999, at(19))  # names no ledger row
    compute(engine)
    got = {r["campaign"]: tuple(r[k] for k in EMAIL_FIGURES) for r in rows(engine, email_weekly)}
    assert got == {"nl-11": (2, 3, 0, 1, 1, 2, 1), "(none)": (1, 0, 1, 0, 0, 0, 0)}


def _snapshot(engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {
            t.name: sorted(tuple(map(str, r)) for r in conn.execute(sa.select(t))) for t in COMPUTED_TABLES
        }


def test_a_rerun_gives_identical_rows_and_only_replaces_its_week(engine):
    with engine.begin() as conn:
        add_lead(conn, 1)
        add_lead(conn, 2)
        add_touch(conn, 1, at(10), "web_form", campaign="a")
        add_stage(conn, 1, "mql", at(12))
        add_touch(conn, 2, at(17), "ad_form")
        add_stage(conn, 2, "mql", at(18))
        add_stage(conn, 2, "sql", at(19))
    tz = ZoneInfo("UTC")
    compute_weeks(engine, [Week.parse("2026-W46", tz), Week.parse("2026-W47", tz)])
    first = _snapshot(engine)
    compute(engine)
    assert _snapshot(engine) == first
    w46 = {k: [r for r in v if r[0] == "2026-11-09"] for k, v in first.items()}
    with engine.begin() as conn:
        conn.execute(sa.text("delete from lifecycle_history where to_stage = 'sql'"))
    compute(engine)
    after = _snapshot(engine)
    assert after != first
    assert {k: [r for r in v if r[0] == "2026-11-09"] for k, v in after.items()} == w46
    assert volumes(engine, Week.parse("2026-W47", tz).start)[("all", "all")] == (1, 1, 0, 0, 0, 0, 0)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_computations_of_one_week_at_once_take_turns(engine):
    from concurrent.futures import ThreadPoolExecutor

    with engine.begin() as conn:
        for lead_id in range(1, 30):
            add_lead(conn, lead_id)
            add_touch(conn, lead_id, at(16), f"c{lead_id % 3}")
            add_stage(conn, lead_id, "sql", at(18))
    week = Week.parse(WEEK_NAME, ZoneInfo("UTC"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: compute_weeks(engine, [week]), range(2)))
    assert [r[0].rows for r in results][0] == [r[0].rows for r in results][1]
    assert volumes(engine)[("all", "all")] == (29, 0, 29, 0, 0, 0, 0)


def test_a_backfill_gives_the_rows_of_each_week_computed_alone(engine):
    # All weeks of a backfill are computed in one statement per table: every week's rows must be
    # the ones that week gets on its own (a gap among the weeks included: W44 is not computed).
    import random

    rnd = random.Random(14)
    channels = ("web_form", "ad_form", "email", "webinar")
    stages = ("mql", "sql", "opportunity", "customer", "recycled", "disqualified")
    with engine.begin() as conn:
        for lead_id in range(1, 61):
            add_lead(conn, lead_id, merged_into=lead_id - 1 if lead_id % 10 == 0 else None)
            for _ in range(rnd.randint(0, 4)):
                day = at(1) + timedelta(days=rnd.randint(0, 50), hours=rnd.randint(0, 23))
                add_touch(
                    conn,
                    lead_id,
                    day - timedelta(days=14),
                    rnd.choice(channels),
                    touch_type=rnd.choice(("form_fill", "email_click", "email_open")),
                    campaign=rnd.choice((None, "a", "b")),
                    scored=rnd.random() > 0.1,
                )
            for _ in range(rnd.randint(0, 3)):
                when = at(1) + timedelta(days=rnd.randint(-7, 28), hours=5)
                add_stage(conn, lead_id, rnd.choice(stages), when)
        for send_id in range(1, 41):
            sent = at(1) + timedelta(days=rnd.randint(0, 27))
            conn.execute(
                email_sends.insert().values(
                    id=send_id,
                    message_key=f"m{send_id}",
                    recipient_hash=f"h{send_id}",
                    lead_id=rnd.randint(1, 60),
                    campaign_id=rnd.choice((None, "a", "b")),
                    template="newsletter",
                    kind="marketing",
                    status="delivered",
                    claimed_at=sent,
                    sent_at=sent,
                )
            )
            for n, event in enumerate(rnd.sample(("delivered", "open", "click", "bounce", "spamreport"), 3)):
                conn.execute(
                    email_events.insert().values(
                        sg_event_id=f"e{send_id}-{n}",
                        event=event,
                        send_id=send_id,
                        occurred_at=sent + timedelta(days=rnd.randint(0, 9)),
                        received_at=sent,
                        machine_open=rnd.random() < 0.2,
                    )
                )
    tz = ZoneInfo("UTC")
    weeks = [Week.parse(w, tz) for w in ("2026-W45", "2026-W46", "2026-W47", "2026-W48", "2026-W43")]
    backfill = compute_weeks(engine, weeks)
    together = _snapshot(engine)
    assert sum(len(v) for v in together.values()) > 100  # the weeks hold figures to compare
    with engine.begin() as conn:
        for table in COMPUTED_TABLES:
            conn.execute(table.delete())
    alone = [compute_weeks(engine, [week])[0] for week in weeks]
    assert _snapshot(engine) == together
    assert [r.as_dict() for r in backfill] == [r.as_dict() for r in alone]
