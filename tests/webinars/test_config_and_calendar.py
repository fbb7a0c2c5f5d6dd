"""Webinar files and their calendar files: local times in IANA zones, DST, reschedule and cancel."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import icalendar
import pytest

from funnelflow.webinars.calendar import CalendarEvent, google_calendar_link, ics
from funnelflow.webinars.config import WebinarConfigError, load_webinar, load_webinars

REPO = Path(__file__).resolve().parents[2]
STAMP = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

BASE = """title: Retirement planning
starts_at: "{starts_at}"
timezone: {zone}
duration_minutes: 60
join_url: https://zoom.example.com/j/1
capacity: 3
host: Dana
"""


def _write(folder: Path, slug: str, text: str) -> Path:
    path = folder / "webinars" / f"{slug}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _event(w, sequence: int = 0) -> CalendarEvent:
    return CalendarEvent(
        slug=w.slug,
        title=w.spec.title,
        description=w.spec.description,
        starts_at=w.starts_at,
        ends_at=w.ends_at,
        join_url=str(w.spec.join_url),
        organizer_name=w.spec.host,
        sequence=sequence,
        cancelled=w.spec.cancelled,
    )


def test_the_shipped_webinar_file_is_valid():
    good, problems = load_webinars(REPO / "config")
    assert problems == []
    assert [w.slug for w in good] == ["retirement-planning-2026-12"]


@pytest.mark.parametrize(
    ("zone", "local", "expected_utc"),
    [
        # Berlin: CEST (+2) until 25 Oct 2026 03:00, CET (+1) after.
        ("Europe/Berlin", "2026-10-24T16:00:00", datetime(2026, 10, 24, 14, 0, tzinfo=UTC)),
        ("Europe/Berlin", "2026-10-26T16:00:00", datetime(2026, 10, 26, 15, 0, tzinfo=UTC)),
        # New York: EDT (-4) until 1 Nov 2026 02:00, EST (-5) after; spring forward 8 Mar 2026.
        ("America/New_York", "2026-10-31T11:00:00", datetime(2026, 10, 31, 15, 0, tzinfo=UTC)),
        ("America/New_York", "2026-11-02T11:00:00", datetime(2026, 11, 2, 16, 0, tzinfo=UTC)),
        ("America/New_York", "2026-03-07T11:00:00", datetime(2026, 3, 7, 16, 0, tzinfo=UTC)),
        ("America/New_York", "2026-03-09T11:00:00", datetime(2026, 3, 9, 15, 0, tzinfo=UTC)),
    ],
)
def test_local_start_becomes_the_right_utc_instant_across_dst(tmp_path, zone, local, expected_utc):
    w = load_webinar(_write(tmp_path, "dst", BASE.format(starts_at=local, zone=zone)))
    assert w.starts_at == expected_utc
    cal = icalendar.Calendar.from_ical(ics(_event(w), STAMP))
    [event] = cal.walk("VEVENT")
    assert event.decoded("DTSTART") == expected_utc
    assert (event.decoded("DTEND") - event.decoded("DTSTART")).total_seconds() == 3600


def test_a_session_spanning_the_dst_change_lasts_its_minutes(tmp_path):
    # 02:30 on 25 Oct 2026 in Berlin happens twice; the first (CEST) is meant.
    w = load_webinar(
        _write(tmp_path, "night", BASE.format(starts_at="2026-10-25T01:30:00", zone="Europe/Berlin"))
    )
    assert w.starts_at == datetime(2026, 10, 24, 23, 30, tzinfo=UTC)
    assert w.ends_at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_calendar_file_is_rfc5545_shaped(tmp_path):
    text = BASE.format(starts_at="2026-12-10T16:00:00", zone="Europe/Berlin") + (
        "description: |\n  Ünïcode ünïcode, commas; semicolons and a long line " + "é" * 80 + "\n"
    )
    w = load_webinar(_write(tmp_path, "shape", text))
    raw = ics(_event(w, sequence=2), STAMP)
    lines = raw.split(b"\r\n")
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in lines)
    assert any(line.startswith(b" ") for line in lines)  # the description was folded
    cal = icalendar.Calendar.from_ical(raw)
    assert cal["METHOD"] == "PUBLISH"
    [event] = cal.walk("VEVENT")
    assert str(event["UID"]) == "webinar-shape@funnelflow.webinars"
    assert event["SEQUENCE"] == 2
    assert event.decoded("DTSTAMP") == STAMP
    assert str(event["URL"]) == "https://zoom.example.com/j/1"
    assert "é" * 80 in str(event["DESCRIPTION"]) and "Join: https://zoom.example.com/j/1" in str(
        event["DESCRIPTION"]
    )
    assert "commas; semicolons" in str(event["DESCRIPTION"])


def test_reschedule_keeps_the_uid_and_cancel_says_cancel(tmp_path):
    path = _write(tmp_path, "moving", BASE.format(starts_at="2026-12-10T16:00:00", zone="Europe/Berlin"))
    before = load_webinar(path)
    path.write_text(BASE.format(starts_at="2026-12-11T10:00:00", zone="Europe/Berlin"))
    moved = load_webinar(path)
    assert moved.schedule_hash != before.schedule_hash
    path.write_text(BASE.format(starts_at="2026-12-11T10:00:00", zone="Europe/Berlin") + "cancelled: true\n")
    cancelled = load_webinar(path)
    assert cancelled.schedule_hash != moved.schedule_hash
    a, b, c = (
        icalendar.Calendar.from_ical(ics(_event(w, n), STAMP))
        for n, w in enumerate((before, moved, cancelled))
    )
    uids = {str(cal.walk("VEVENT")[0]["UID"]) for cal in (a, b, c)}
    assert len(uids) == 1
    assert [cal.walk("VEVENT")[0]["SEQUENCE"] for cal in (a, b, c)] == [0, 1, 2]
    assert c["METHOD"] == "CANCEL" and str(c.walk("VEVENT")[0]["STATUS"]) == "CANCELLED"


def test_google_link_carries_utc_times(tmp_path):
    w = load_webinar(
        _write(tmp_path, "g", BASE.format(starts_at="2026-12-10T16:00:00", zone="Europe/Berlin"))
    )
    assert "dates=20261210T150000Z%2F20261210T160000Z" in google_calendar_link(_event(w))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BASE.format(starts_at="2026-12-10T16:00:00", zone="Europe/Bxl"), "line 3: timezone:"),
        (BASE.format(starts_at="2026-12-10T16:00:00+01:00", zone="Europe/Berlin"), "line 2: starts_at:"),
        (
            BASE.format(starts_at="2026-12-10T16:00:00", zone="UTC").replace("capacity: 3", "capacity: 0"),
            "line 6: capacity:",
        ),
        (BASE.format(starts_at="2026-12-10T16:00:00", zone="UTC") + "colour: blue\n", "colour: Extra inputs"),
    ],
)
def test_a_broken_file_names_file_line_and_fix(tmp_path, text, expected):
    path = _write(tmp_path, "broken", text)
    with pytest.raises(WebinarConfigError) as err:
        load_webinar(path)
    assert str(path) in str(err.value) and expected in str(err.value) and "fix:" in str(err.value)


def test_a_broken_file_does_not_hide_the_others(tmp_path):
    _write(tmp_path, "good", BASE.format(starts_at="2026-12-10T16:00:00", zone="UTC"))
    _write(tmp_path, "bad", "title: [")
    good, problems = load_webinars(tmp_path)
    assert [w.slug for w in good] == ["good"]
    assert len(problems) == 1 and "bad.yaml" in problems[0]
