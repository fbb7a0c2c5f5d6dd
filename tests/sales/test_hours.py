"""Business-hours deadlines: nights, weekends, holidays, DST, exactly at closing, in the rep's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from funnelflow.sales.hours import Calendar, add_business_hours, business_hours_between

BERLIN = ZoneInfo("Europe/Berlin")
NY = ZoneInfo("America/New_York")
WEEK = frozenset(range(5))


def cal(zone=BERLIN, holidays=()):
    return Calendar(zone, time(9), time(17), WEEK, frozenset(holidays))


def local(zone, *args):
    return datetime(*args, tzinfo=zone)


def test_within_one_day():
    # Tue 2026-12-01 10:00 Berlin + 4 h = 14:00 Berlin.
    assert add_business_hours(cal(), local(BERLIN, 2026, 12, 1, 10), 4) == local(BERLIN, 2026, 12, 1, 14)


def test_deadline_exactly_at_closing_is_that_closing():
    due = add_business_hours(cal(), local(BERLIN, 2026, 12, 1, 13), 4)
    assert due == local(BERLIN, 2026, 12, 1, 17)
    # Starting at closing with zero hours left is that closing too; any more rolls to the next opening.
    assert add_business_hours(cal(), local(BERLIN, 2026, 12, 1, 17), 0) == local(BERLIN, 2026, 12, 1, 17)
    assert add_business_hours(cal(), local(BERLIN, 2026, 12, 1, 17), 1) == local(BERLIN, 2026, 12, 2, 10)


def test_overflow_into_next_day_and_over_the_weekend():
    assert add_business_hours(cal(), local(BERLIN, 2026, 12, 1, 15), 4) == local(BERLIN, 2026, 12, 2, 11)
    # Friday 16:00 + 8 h: 1 h Friday, 7 h Monday -> Monday 16:00.
    assert add_business_hours(cal(), local(BERLIN, 2026, 12, 4, 16), 8) == local(BERLIN, 2026, 12, 7, 16)


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (local(BERLIN, 2026, 12, 1, 6), local(BERLIN, 2026, 12, 1, 11)),  # before opening
        (local(BERLIN, 2026, 11, 30, 20), local(BERLIN, 2026, 12, 1, 11)),  # the evening before
        (local(BERLIN, 2026, 11, 28, 12), local(BERLIN, 2026, 11, 30, 11)),  # Saturday -> Monday
    ],
)
def test_outside_hours_the_clock_starts_at_the_next_opening(start, due):
    assert add_business_hours(cal(), start, 2) == due


def test_holidays_of_the_calendar_are_skipped():
    xmas = cal(holidays=[date(2026, 12, 24), date(2026, 12, 25)])
    # Wed 23 Dec 15:00 + 4 h: 2 h Wednesday, then Thu/Fri are holidays -> Mon 28 Dec 11:00.
    assert add_business_hours(xmas, local(BERLIN, 2026, 12, 23, 15), 4) == local(BERLIN, 2026, 12, 28, 11)
    assert add_business_hours(cal(), local(BERLIN, 2026, 12, 23, 15), 4) == local(BERLIN, 2026, 12, 24, 11)


def test_the_reps_zone_decides_not_utc():
    start = datetime(2026, 12, 1, 10, tzinfo=UTC)  # 05:00 in New York: before opening there
    assert add_business_hours(cal(NY), start, 4) == local(NY, 2026, 12, 1, 13)
    assert add_business_hours(cal(BERLIN), start, 4) == local(BERLIN, 2026, 12, 1, 15)


def test_dst_change_keeps_local_opening_hours():
    # Berlin springs forward on Sunday 2026-03-29: Friday 16:00 CET + 2 h = Monday 10:00 CEST.
    due = add_business_hours(cal(), local(BERLIN, 2026, 3, 27, 16), 2)
    assert due == local(BERLIN, 2026, 3, 30, 10)
    assert due.astimezone(UTC) == datetime(2026, 3, 30, 8, tzinfo=UTC)
    # New York falls back on Sunday 2026-11-01: same rule the other way.
    due = add_business_hours(cal(NY), local(NY, 2026, 10, 30, 16), 2)
    assert due.astimezone(UTC) == datetime(2026, 11, 2, 15, tzinfo=UTC)


def test_a_dst_night_inside_business_hours_counts_real_hours():
    always = Calendar(BERLIN, time(0), time(23, 59), frozenset(range(7)))
    # 01:00 CET + 2 real hours: 02:00-03:00 does not exist that night, so the wall clock says 04:00 CEST.
    due = add_business_hours(always, local(BERLIN, 2026, 3, 29, 1), 2)
    assert due.astimezone(UTC) == datetime(2026, 3, 29, 2, tzinfo=UTC)
    assert due.astimezone(BERLIN).hour == 4


def test_between_is_the_inverse_of_add():
    c = cal(holidays=[date(2026, 12, 24)])
    start = local(BERLIN, 2026, 12, 22, 16, 30)
    for hours in (0.5, 4, 8, 17.25, 48):
        assert business_hours_between(c, start, add_business_hours(c, start, hours)) == pytest.approx(hours)


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_hours(cal(), datetime(2026, 12, 1, 10), 1)
