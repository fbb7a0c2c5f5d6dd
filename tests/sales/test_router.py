"""The routing rule over plain data: steps, eligibility, tie-breaks, in-run loads, account ownership."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from funnelflow.sales.routing import LeadFacts, Router
from funnelflow.sales.team import team_from_text
from tests.sales.factories import AS_OF, TEAM_YAML


@pytest.fixture
def team():
    return team_from_text(TEAM_YAML)


def lead(i=1, **kw):
    return LeadFacts(lead_id=i, **kw)


def test_the_most_specific_step_with_an_eligible_rep_decides(team):
    r = Router(team, AS_OF)
    d = r.route(lead(country="DE", segment="enterprise", industry="Software"))
    assert (d.rep_id, d.reason) == ("lena", "country_segment_industry")
    # Not software: lena's industry list excludes it at the first step, and jonas's segments exclude
    # enterprise.
    d = r.route(lead(2, country="de", segment="enterprise", industry="retail"))
    assert (d.rep_id, d.reason) == ("lena", "country_segment")
    d = r.route(lead(3, country="US"))
    assert (d.rep_id, d.reason) == ("marcus", "country_segment_industry")
    d = r.route(lead(4, country="BR"))
    assert d.reason == "any"


def test_a_lead_without_a_value_does_not_match_a_non_empty_list(team):
    # No country: nobody with a country list matches; every rep has one, so only `any` decides.
    d = Router(team, AS_OF).route(lead(country=None, segment="enterprise", industry="software"))
    assert d.reason == "any"
    # No industry: lena (industries: [software]) cannot take it at the first step, only at the second.
    d = Router(team, AS_OF).route(lead(country="DE", segment="enterprise", industry=None))
    assert (d.rep_id, d.reason) == ("lena", "country_segment")


def test_empty_lists_match_anything_so_the_first_step_is_not_the_most_specific_rep(team):
    # marcus has no lists at all: he matches the first step for a US lead with every dimension set.
    d = Router(team, AS_OF).route(lead(country="us", segment="smb", industry="retail"))
    assert (d.rep_id, d.reason) == ("marcus", "country_segment_industry")


def test_fewest_open_items_then_oldest_assignment_then_id(team):
    last = {"lena": AS_OF - timedelta(hours=1), "jonas": AS_OF - timedelta(hours=2)}
    r = Router(team, AS_OF, loads={"lena": 1, "jonas": 1}, last_assigned=last)
    # Both at one open item; jonas was assigned longer ago.
    assert r.route(lead(1, country="AT")).rep_id == "jonas"
    # jonas now has 2: lena (1) has fewer.
    assert r.route(lead(2, country="AT")).rep_id == "lena"
    # Both 2; lena was assigned in this run after jonas, so jonas's is older.
    assert r.route(lead(3, country="AT")).rep_id == "jonas"


def test_never_assigned_is_oldest_and_rep_id_breaks_the_last_tie(team):
    r = Router(team, AS_OF, last_assigned={"lena": AS_OF - timedelta(days=300)})
    assert r.route(lead(country="AT")).rep_id == "jonas"  # never assigned beats assigned long ago
    r = Router(team, AS_OF)
    assert r.route(lead(country="AT")).rep_id == "jonas"  # all equal: rep id (jonas < lena)


def test_capacity_is_never_exceeded_and_then_nobody(team):
    r = Router(team, AS_OF, loads={"marcus": 4})
    got = [r.route(lead(i, country="AT")).rep_id for i in range(10)]
    # lena 2 + jonas 3 at the country step, then marcus's one free slot at `any`, then nobody.
    assert got.count("lena") == 2 and got.count("jonas") == 3 and got.count("marcus") == 1
    assert got[6:] == [None] * 4
    d = r.route(lead(99, country="US"))
    assert d.rep_id is None
    assert d.reason.startswith("no eligible rep (3 at_capacity")


def test_account_owner_first_and_the_first_assignment_makes_the_owner(team):
    r = Router(team, AS_OF, owners={7: "marcus", 8: None})
    assert r.route(lead(1, account_id=7, country="DE")).reason == "account_owner"
    first = r.route(lead(2, account_id=8, country="DE", segment="enterprise", industry="software"))
    assert (first.rep_id, first.reason) == ("lena", "country_segment_industry")
    follow = r.route(lead(3, account_id=8, country="US"))
    assert (follow.rep_id, follow.reason) == ("lena", "account_owner")


def test_an_owner_who_is_not_eligible_passes_to_the_next_step(team):
    r = Router(team, AS_OF, owners={7: "lena"}, loads={"lena": 2})
    d = r.route(lead(1, account_id=7, country="DE"))
    assert (d.rep_id, d.reason) == ("jonas", "country")


def test_out_of_office_is_inclusive_and_holidays_count_in_the_reps_zone():
    text = TEAM_YAML.replace(
        "    capacity: 2\n", '    capacity: 2\n    out_of_office: [{from: "2026-12-01", to: "2026-12-02"}]\n'
    )
    team = team_from_text(text)
    on_to_day = datetime(2026, 12, 2, 16, tzinfo=UTC)  # 17:00 in Berlin on the `to` day
    assert Router(team, on_to_day).why_unavailable["lena"] == "out_of_office"
    assert Router(team, datetime(2026, 12, 3, 8, tzinfo=UTC)).why_unavailable["lena"] is None
    # 23:30 UTC on 23 Dec is already 24 Dec (a DE holiday) in Berlin, not in New York.
    late = datetime(2026, 12, 23, 23, 30, tzinfo=UTC)
    r = Router(team, late)
    assert r.why_unavailable["jonas"] == "holiday"
    assert r.why_unavailable["marcus"] is None
    assert Router(team, datetime(2026, 12, 23, 22, 30, tzinfo=UTC)).why_unavailable["jonas"] is None


def test_inactive_reps_get_nothing():
    team = team_from_text(TEAM_YAML.replace("    capacity: 5\n", "    capacity: 5\n    active: false\n"))
    d = Router(team, AS_OF).route(lead(country="US"))
    assert d.rep_id != "marcus"
