"""Attendee reports of Zoom, GoToWebinar and Teams: the right table, rejoins summed, hosts left out."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from funnelflow.webinars.attendance import ReportNotRecognised, parse_minutes, parse_report

DATA = Path(__file__).parent / "data"
BERLIN = ZoneInfo("Europe/Berlin")


def _by_email(report):
    return {a.email: a for a in report.attendees}


def test_zoom_attendee_details_only_with_rejoins_summed():
    report = parse_report((DATA / "zoom_attendee_report.csv").read_bytes(), BERLIN)
    assert report.platform == "zoom"
    people = _by_email(report)
    assert set(people) == {"ada@example.org", "bo@example.org"}  # not the host, panelist or the 'No' row
    assert people["ada@example.org"].minutes == 44
    assert people["ada@example.org"].lines == [13, 14]
    assert people["ada@example.org"].first_joined_at == datetime(2026, 12, 10, 15, 1, tzinfo=UTC)
    assert (people["ada@example.org"].first_name, people["ada@example.org"].last_name) == ("Ada", "Lovelace")
    assert [(line, reason) for line, reason, _ in report.rejects] == [
        (17, "no valid email address in the attendee row")
    ]
    assert report.rows == 5


def test_gotowebinar_durations_in_words_and_a_bad_one_set_aside():
    report = parse_report((DATA / "gotowebinar_attendees.csv").read_bytes(), BERLIN)
    assert report.platform == "gotowebinar"
    people = _by_email(report)
    assert set(people) == {"ada@example.org", "bo@example.org"}
    assert people["ada@example.org"].minutes == 105
    assert people["bo@example.org"].minutes == 4
    [(line, reason, raw)] = report.rejects
    assert (
        line == 10 and "'a while' is not a duration" in reason and raw["email address"] == "otto@example.org"
    )


def test_teams_utf16_participants_without_organizer_or_activity_rows():
    report = parse_report((DATA / "teams_attendance.csv").read_bytes(), BERLIN)
    assert report.platform == "teams"
    people = _by_email(report)
    assert set(people) == {"ada@example.org", "bo@example.org", "emile@example.org"}
    assert people["ada@example.org"].minutes == pytest.approx(44.5)
    assert (people["emile@example.org"].first_name, people["emile@example.org"].last_name) == (
        "Émile",
        "Zola",
    )
    assert people["bo@example.org"].first_joined_at == datetime(2026, 12, 10, 15, 5, tzinfo=UTC)


def test_a_file_without_an_attendee_table_is_refused_with_its_reason():
    with pytest.raises(ReportNotRecognised, match="no attendee table found"):
        parse_report(b"email,first_name\nada@example.org,Ada\n", BERLIN)


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("45", 45),
        ("45.5", 45.5),
        ("1 hour 5 minutes", 65),
        ("1h 2m 30s", 62.5),
        ("01:05:30", 65.5),
        ("2 hrs", 120),
        ("x", None),
    ],
)
def test_durations(text, minutes):
    assert parse_minutes(text) == minutes
