"""The sales, webinar and retention figures against hand-built fixtures, on SQLite and PostgreSQL.

Each test writes its fixture as plain Python data, inserts it, and recomputes the expected rows
from that data in Python (not with the SQL under test); README "Funnel metrics" defines them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from funnelflow import sql
from funnelflow.db.schema import (
    email_sends,
    funnel_weekly,
    opportunities,
    reps,
    retention_weekly,
    sales_queue,
    sales_queue_history,
    sla_rejections_weekly,
    sla_weekly,
    webinar_registrations,
    webinar_weekly,
    webinars,
)
from funnelflow.metrics.compute import compute_week
from funnelflow.metrics.weeks import Week
from funnelflow.sales.team import team_from_text
from tests.metrics.helpers import WEEK, add_lead, add_touch, at, rows

IN_WEEK = (at(16, 0), at(23, 0))  # 2026-W47 in UTC: Monday 16 November 00:00 .. Monday 23 00:00

# Origins: lead 1 web_form/website/spring; lead 2 ad_form/linkedin/(none); lead 3 has no touch
# ((none) everywhere); lead 4 is merged into lead 1, so its rows count with lead 1's origin.
ORIGIN = {
    1: ("web_form", "website", "spring"),
    2: ("ad_form", "linkedin", "(none)"),
    3: ("(none)", "(none)", "(none)"),
    None: ("(none)", "(none)", "(none)"),
}
OWNER = {1: 1, 2: 2, 3: 3, 4: 1}

TEAM_FILE = """
business_hours: {start: "09:00", end: "17:00", days: [mon, tue, wed, thu, fri]}
holidays: {XX: ["2026-11-17"]}
sla_business_hours: {A: 4, B: 8, C: 24, D: 48}
reassign_after_business_hours: 8
recycle_cooldown_days: 30
teams:
  - {name: north, manager: ana}
  - {name: west, manager: bo}
reps:
  - {id: ana, name: Ana, email: ana@example.com, team: north, timezone: UTC, calendar: XX, capacity: 10}
  - {id: bo, name: Bo, email: bo@example.com, team: west, timezone: America/New_York, capacity: 10}
routing: [any]
"""


def _leads_with_origins(conn) -> None:
    for lead_id in (1, 2, 3):
        add_lead(conn, lead_id)
    add_lead(conn, 4, merged_into=1)
    add_touch(conn, 1, at(2), "web_form", source="website", campaign="spring")
    add_touch(conn, 2, at(3), "ad_form", touch_type="ad_lead", source="linkedin")


def _reps(conn) -> None:
    for rep_id, team, zone, calendar in (
        ("ana", "north", "UTC", "XX"),
        ("bo", "west", "America/New_York", None),
    ):
        conn.execute(
            reps.insert().values(
                id=rep_id,
                name=rep_id,
                email=f"{rep_id}@example.com",
                team=team,
                timezone=zone,
                calendar=calendar,
                capacity=10,
                active=True,
                in_team_file=True,
                synced_at=at(1),
            )
        )


def _item(conn, item_id: int, lead_id: int, kind: str = "handoff", **values) -> None:
    conn.execute(
        sales_queue.insert().values(
            id=item_id,
            lead_id=lead_id,
            entry_key=f"test:{item_id}",
            kind=kind,
            status=values.pop("status", "open"),
            entered_at=values.pop("entered_at", at(10)),
            **values,
        )
    )


def _compute(engine, team=None) -> Week:
    week = Week.parse(WEEK)
    compute_week(engine, week, team)
    return week


def _in_week(moment) -> bool:
    return IN_WEEK[0] <= moment < IN_WEEK[1]


def _by_origin(items) -> dict[tuple[str, str], Counter]:
    """(dimension, value) -> Counter of keys, for items (lead, key) by the lead's origin."""
    out: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for lead_id, key in items:
        channel, source, campaign = ORIGIN[OWNER.get(lead_id)]
        for dim_value in (("all", "all"), ("channel", channel), ("source", source), ("campaign", campaign)):
            out[dim_value][key] += 1
    return out


# --- handoff outcomes and won revenue (funnel_weekly) ----------------------------------------

# (item, lead, kind, [(action, at, reason)]): the queue items and their recorded outcomes
HANDOFFS = [
    (1, 1, "handoff", [("accepted", at(16, 12), None)]),
    (2, 2, "handoff", [("accepted", at(18, 11), None), ("rejected", at(19, 9), "no_budget")]),
    (3, 3, "handoff", [("rejected", at(21, 10), "not_a_fit")]),
    (4, 4, "handoff", [("rejected", at(22, 23, 59), "not_a_fit")]),  # merged: lead 1's origin
    (5, 3, "call_back", [("rejected", at(18), "other")]),  # not a handoff
    (6, 2, "handoff", [("accepted", at(15, 23, 59), None)]),  # the Sunday before
    (7, 1, "handoff", [("rejected", at(23, 0), "duplicate")]),  # next Monday 00:00
]
# (id, lead, kind, stage, amount, closed_at, renewal_date)
OPPORTUNITIES = [
    (1, 1, "new", "won", Decimal("1000.50"), at(17), date(2026, 11, 16)),
    (2, 4, "upsell", "won", Decimal("200.00"), at(20), None),
    (3, 2, "renewal", "won", Decimal("300.00"), at(22, 23, 59), date(2026, 11, 22)),
    (4, 2, "new", "lost", Decimal("999.00"), at(18), None),
    (5, 3, "new", "won", Decimal("70.00"), at(23, 0), date(2026, 11, 23)),
    (6, None, "new", "won", Decimal("50.00"), at(19), None),
    (7, 3, "renewal", "won", None, at(18), None),  # no amount: counts as 0
    (8, 3, "new", "lost", Decimal("5.00"), at(18), date(2026, 11, 18)),  # lost: not a renewal due
]


def _sales_fixture(conn) -> None:
    _leads_with_origins(conn)
    _reps(conn)
    for item_id, lead_id, kind, actions in HANDOFFS:
        rejected = [reason for action, _, reason in actions if action == "rejected"]
        _item(
            conn,
            item_id,
            lead_id,
            kind,
            status="rejected" if rejected else "accepted",
            outcome_reason=rejected[0] if rejected else None,
        )
        for action, when, _ in actions:
            conn.execute(
                sales_queue_history.insert().values(
                    item_id=item_id, at=when, actor="rep:ana", action=action, to_status=action
                )
            )
    for opp_id, lead_id, kind, stage, amount, closed_at, renewal in OPPORTUNITIES:
        conn.execute(
            opportunities.insert().values(
                id=opp_id,
                external_id=f"opp-{opp_id}",
                lead_id=lead_id,
                kind=kind,
                stage=stage,
                amount=amount,
                currency="EUR",
                created_at=at(1),
                closed_at=closed_at,
                renewal_date=renewal,
                synced_at=at(1),
            )
        )


def test_handoff_outcomes_and_won_revenue_by_origin(engine):
    with engine.begin() as conn:
        _sales_fixture(conn)
    _compute(engine)

    outcomes = [
        (lead_id, action)
        for _, lead_id, kind, actions in HANDOFFS
        if kind == "handoff"
        for action, when, _ in actions
        if _in_week(when)
    ]
    expected = _by_origin(outcomes)
    revenue: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for _, lead_id, _, stage, amount, closed_at, _ in OPPORTUNITIES:
        if stage == "won" and _in_week(closed_at):
            channel, source, campaign = ORIGIN[OWNER.get(lead_id)]
            for key in (("all", "all"), ("channel", channel), ("source", source), ("campaign", campaign)):
                revenue[key] += amount or Decimal(0)

    got = {
        (r["dimension"], r["value"]): (r["accepted"], r["rejected"], r["won_revenue"])
        for r in rows(engine, funnel_weekly)
    }
    want_keys = set(expected) | set(revenue)
    assert {k for k, v in got.items() if v != (0, 0, 0)} == want_keys
    for key in want_keys:
        assert got[key] == (expected[key]["accepted"], expected[key]["rejected"], revenue[key]), key
    # the hand count, to be sure the recomputation above is not empty
    assert got[("all", "all")] == (2, 3, Decimal("1550.50"))


def test_rejections_by_reason_and_origin(engine):
    with engine.begin() as conn:
        _sales_fixture(conn)
    _compute(engine)
    rejected = [
        (lead_id, reason)
        for _, lead_id, kind, actions in HANDOFFS
        if kind == "handoff"
        for action, when, reason in actions
        if action == "rejected" and _in_week(when)
    ]
    expected = {
        (reason, dim, value): n
        for (dim, value), counts in _by_origin(rejected).items()
        for reason, n in counts.items()
    }
    got = {
        (r["reason"], r["dimension"], r["value"]): r["rejected"] for r in rows(engine, sla_rejections_weekly)
    }
    assert got == expected
    assert got[("not_a_fit", "all", "all")] == 2
    assert got[("not_a_fit", "campaign", "spring")] == 1  # the merged lead's item, by lead 1's origin


def test_retention(engine):
    with engine.begin() as conn:
        _sales_fixture(conn)
    _compute(engine)
    due = sum(
        1
        for *_, stage, _, _, renewal in OPPORTUNITIES
        if stage == "won" and renewal is not None and date(2026, 11, 16) <= renewal <= date(2026, 11, 22)
    )
    won_renewals = sum(
        1
        for _, _, kind, stage, _, closed, _ in OPPORTUNITIES
        if (kind, stage) == ("renewal", "won") and _in_week(closed)
    )
    upsell = sum(
        (amount or Decimal(0))
        for _, _, kind, stage, amount, closed, _ in OPPORTUNITIES
        if (kind, stage) == ("upsell", "won") and _in_week(closed)
    )
    [row] = rows(engine, retention_weekly)
    assert (row["renewals_due"], row["renewals_won"], row["upsell_revenue"]) == (due, won_renewals, upsell)
    assert row["renewal_rate"] == pytest.approx(won_renewals / due)
    assert (due, won_renewals, upsell) == (2, 2, Decimal("200.00"))


def test_retention_without_renewals_due_is_no_data(engine):
    _compute(engine)
    [row] = rows(engine, retention_weekly)
    assert (row["renewals_due"], row["renewals_won"], row["renewal_rate"]) == (0, 0, None)
    assert row["upsell_revenue"] == 0


# --- SLA per team and rep (sla_weekly) ----------------------------------------------------------

# (item, rep, assigned_at, due_at, first_action_at, sla_outcome, business hours to first action)
# ana: UTC, 09-17 Mon-Fri, holiday Tue 17 Nov; bo: New York (UTC-5 in November), no holidays.
SLA_ITEMS = [
    (11, "ana", at(16, 10), at(16, 14), at(16, 12), "met", 2.0),  # Monday 10:00 -> 12:00
    (12, "ana", at(16, 16), at(18, 12), at(18, 11), "met", 3.0),  # Mon 16-17, Tue holiday, Wed 9-11
    (13, "ana", at(20, 16), at(20, 17), at(21, 10), "breached", 1.0),  # Fri 16-17; Saturday is closed
    (14, "bo", at(16, 13), at(16, 18), at(16, 15), "met", 1.0),  # 08:00 NY: opens 09:00, acts 10:00
    (15, "bo", at(17, 20), at(18, 20), at(18, 16, 30), "met", 4.5),  # Tue 15-17 NY, Wed 09-11:30 NY
    (16, "bo", at(18, 14), at(19, 14), None, "breached", None),  # no action: breached, no hours
    (17, None, at(18, 14), at(19, 14), None, None, None),  # nobody holds it, not decided yet
    (18, "ana", at(20, 9), at(23, 9), at(20, 10), "met", 1.0),  # due next week: not this week's
]


def test_sla_per_team_and_rep_with_business_hours(engine):
    with engine.begin() as conn:
        _leads_with_origins(conn)
        _reps(conn)
        for item_id, rep_id, assigned, due, acted, outcome, _ in SLA_ITEMS:
            _item(
                conn,
                item_id,
                1,
                rep_id=rep_id,
                assigned_at=assigned,
                due_at=due,
                first_action_at=acted,
                sla_outcome=outcome,
            )
    _compute(engine, team_from_text(TEAM_FILE, "sales_team.yaml"))

    team_of = {"ana": "north", "bo": "west", None: "(none)"}
    expected: dict[tuple[str, str], list] = {}
    hours: dict[tuple[str, str], list[float]] = defaultdict(list)
    for _, rep_id, _, due, _, outcome, h in SLA_ITEMS:
        if not _in_week(due):
            continue
        key = (team_of[rep_id], rep_id or "(none)")
        counts = expected.setdefault(key, [0, 0, 0])
        counts[0] += 1
        counts[1] += outcome == "met"
        counts[2] += outcome == "breached"
        if h is not None:
            hours[key].append(h)

    def median(values):
        s = sorted(values)
        return (
            None if not s else (s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2)
        )

    got = {
        (r["team"], r["rep_id"]): (
            r["items_due"],
            r["met"],
            r["breached"],
            r["median_business_hours_to_first_action"],
        )
        for r in rows(engine, sla_weekly)
    }
    assert got == {key: (*counts, median(hours.get(key, []))) for key, counts in expected.items()}
    assert got[("north", "ana")] == (3, 2, 1, 2.0)
    assert got[("west", "bo")] == (3, 2, 1, 2.75)


def test_sla_medians_stay_empty_without_a_team_file(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("FUNNELFLOW_CONFIG_DIR", str(tmp_path))  # no sales_team.yaml there
    with engine.begin() as conn:
        _leads_with_origins(conn)
        _reps(conn)
        _item(
            conn, 11, 1, rep_id="ana", assigned_at=at(16, 10), due_at=at(16, 14), first_action_at=at(16, 12)
        )
    _compute(engine)
    [row] = rows(engine, sla_weekly)
    assert (row["items_due"], row["median_business_hours_to_first_action"]) == (1, None)


# --- webinars (webinar_weekly) ------------------------------------------------------------------

# (id, slug, starts_at, status)
WEBINARS = [
    (1, "pricing-live", at(18, 15), "scheduled"),
    (2, "cancelled-one", at(19, 15), "cancelled"),
    (3, "next-week", at(24, 15), "scheduled"),
]
# (webinar, lead, status)
REGISTRATIONS = [
    (1, 1, "registered"),
    (1, 2, "attended"),
    (1, 3, "attended"),
    (1, 4, "no_show"),
    (1, 5, "waitlisted"),
    (1, 6, "cancelled"),
    (2, 1, "registered"),
    (3, 2, "registered"),
]
# (webinar slug, lead, template, sent): the ledger rows of invitation waves and other emails
SENDS = [
    ("pricing-live", 1, "webinar_invitation", True),
    ("pricing-live", 1, "webinar_invitation", True),  # a second wave to the same person
    ("pricing-live", 2, "webinar_invitation", True),
    ("pricing-live", 3, "webinar_invitation", False),  # skipped: never sent
    ("pricing-live", 4, "webinar_reminder", True),  # not an invitation
    ("next-week", 5, "webinar_invitation", True),
]


def test_webinar_performance(engine):
    with engine.begin() as conn:
        for lead_id in range(1, 7):
            add_lead(conn, lead_id)
        for webinar_id, slug, starts, status in WEBINARS:
            conn.execute(
                webinars.insert().values(
                    id=webinar_id,
                    slug=slug,
                    title=f"Webinar {slug}",
                    starts_at=starts,
                    ends_at=starts.replace(hour=starts.hour + 1),
                    timezone="UTC",
                    capacity=100,
                    status=status,
                    schedule_hash="x",
                    join_url="https://example.com/j",
                )
            )
        for i, (webinar_id, lead_id, status) in enumerate(REGISTRATIONS):
            conn.execute(
                webinar_registrations.insert().values(
                    webinar_id=webinar_id,
                    lead_id=lead_id,
                    status=status,
                    source="form",
                    registered_at=at(10, 9, i),
                )
            )
        for i, (slug, lead_id, template, sent) in enumerate(SENDS):
            conn.execute(
                email_sends.insert().values(
                    message_key=f"webinar:{slug}:invitation:{i}",
                    recipient_hash=f"h{lead_id}",
                    lead_id=lead_id,
                    campaign_id=slug,
                    template=template,
                    kind="marketing",
                    status="sent" if sent else "skipped",
                    claimed_at=at(12),
                    sent_at=at(12) if sent else None,
                )
            )
    _compute(engine)

    held = {wid: slug for wid, slug, starts, status in WEBINARS if status == "scheduled" and _in_week(starts)}
    expected = {}
    for wid, slug in held.items():
        statuses = Counter(status for w, _, status in REGISTRATIONS if w == wid)
        invited = {
            lead
            for s, lead, template, sent in SENDS
            if s == slug and template == "webinar_invitation" and sent
        }
        expected[slug] = (
            f"Webinar {slug}",
            len(invited),
            statuses["registered"] + statuses["attended"] + statuses["no_show"],
            statuses["waitlisted"],
            statuses["attended"],
            statuses["no_show"],
        )
    got = {
        r["webinar_id"]: (
            r["webinar_name"],
            r["invited"],
            r["registered"],
            r["waitlisted"],
            r["attended"],
            r["no_show"],
        )
        for r in rows(engine, webinar_weekly)
    }
    assert got == expected
    assert got == {"pricing-live": ("Webinar pricing-live", 2, 4, 1, 2, 1)}


# --- the DAG's data-quality checks over these tables ---------------------------------------------


def _check(engine, name: str):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql.source(f"metrics/checks/{name}", conn.dialect.name))).scalar_one()


def test_checks_pass_on_true_figures_and_catch_a_wrong_row(engine):
    with engine.begin() as conn:
        _sales_fixture(conn)
    week = _compute(engine)
    assert bool(_check(engine, "counts_not_negative")) is True
    assert _check(engine, "dimensions_add_up") == 0
    assert _check(engine, "rejections_match_handoffs") == 0
    with engine.begin() as conn:  # one reason loses a rejection: the two tables disagree
        conn.execute(
            sla_rejections_weekly.update()
            .where(
                sla_rejections_weekly.c.week_start == week.start,
                sla_rejections_weekly.c.reason == "not_a_fit",
                sla_rejections_weekly.c.dimension == "all",
            )
            .values(rejected=1)
        )
        conn.execute(retention_weekly.update().values(renewals_won=-1))
    assert _check(engine, "rejections_match_handoffs") == 1
    assert bool(_check(engine, "counts_not_negative")) is False
