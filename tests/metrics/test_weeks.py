"""ISO weeks and their bounds in the report time zone (no database)."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from funnelflow.metrics.weeks import BadWeek, Week, report_timezone, weeks_between

BERLIN = ZoneInfo("Europe/Berlin")


def test_a_week_runs_from_monday_midnight_to_monday_midnight_in_the_report_zone():
    week = Week.parse("2026-W47", BERLIN)
    assert week.start == date(2026, 11, 16)
    assert week.starts_at == datetime(2026, 11, 15, 23, 0, tzinfo=UTC)  # CET = UTC+1
    assert week.ends_at == datetime(2026, 11, 22, 23, 0, tzinfo=UTC)


def test_the_week_daylight_saving_ends_is_169_hours():
    week = Week.parse("2026-W43", BERLIN)  # Sunday 2026-10-25 the clocks go back
    assert week.starts_at == datetime(2026, 10, 18, 22, 0, tzinfo=UTC)  # CEST = UTC+2
    assert week.ends_at == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)
    assert (week.ends_at - week.starts_at).total_seconds() == 169 * 3600


def test_the_week_before_a_monday_morning_run_is_the_week_that_just_ended():
    run = datetime(2026, 11, 23, 6, 0, tzinfo=BERLIN)
    assert Week.before(run, BERLIN).iso == "2026-W47"
    # 00:30 on Monday in Berlin is still Sunday in UTC: the zone decides, not UTC.
    assert Week.containing(datetime(2026, 11, 22, 23, 30, tzinfo=UTC), BERLIN).iso == "2026-W48"
    assert Week.containing(datetime(2026, 11, 22, 23, 30, tzinfo=UTC), ZoneInfo("UTC")).iso == "2026-W47"


def test_iso_years_and_ranges():
    assert Week.parse("2026-W53", ZoneInfo("UTC")).start == date(2026, 12, 28)  # 2026 has 53 ISO weeks
    assert Week.parse("2027-W01", ZoneInfo("UTC")).start == date(2027, 1, 4)
    span = weeks_between(Week.parse("2026-W52", BERLIN), Week.parse("2027-W02", BERLIN))
    assert [w.iso for w in span] == ["2026-W52", "2026-W53", "2027-W01", "2027-W02"]


@pytest.mark.parametrize("text", ["2026-47", "2026-W7", "W47", "2025-W53"])
def test_a_bad_week_name_says_what_to_write(text):
    with pytest.raises(BadWeek, match=r"2026-W48|has weeks 01 to 52"):
        Week.parse(text, BERLIN)


def test_a_bad_time_zone_is_named(monkeypatch):
    monkeypatch.setenv("FUNNELFLOW_REPORT_TZ", "Mars/Olympus")
    with pytest.raises(BadWeek, match="Mars/Olympus"):
        report_timezone()
    monkeypatch.setenv("FUNNELFLOW_REPORT_TZ", "Europe/Berlin")
    assert report_timezone().key == "Europe/Berlin"
