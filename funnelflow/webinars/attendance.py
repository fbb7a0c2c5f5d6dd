"""Attendee reports from webinar platforms: Zoom, GoToWebinar and Microsoft Teams exports.

Each platform exports a report with sections before the table we want:

- Zoom: "Attendee Report", then "Host Details", "Panelist Details", then
  "Attendee Details" with ``Attended``, ``Email``, ``Join Time``, ``Leave Time`` and
  ``Time in Session (minutes)``; one row per join, so a rejoin is a second row.
- GoToWebinar: a summary, then "Attendee Details" with ``Email Address``,
  ``Join Time``, ``Leave Time`` and ``Time in Session`` ("1 hour 5 minutes").
- Teams: "1. Summary", "2. Participants" with ``Email``, ``First Join``,
  ``In-Meeting Duration`` ("1h 2m 3s") and ``Role``, often UTF-16 and tab-separated.

``parse_report`` finds the attendee table by its section and its header, sums each
person's minutes over rejoins, and keeps the earliest join. Hosts, panelists and
presenters are not attendees. A row with no usable address or duration is set aside
with its line number and reason, never silently dropped.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from dateutil import parser as date_parser

from funnelflow.identity import email_key

# Section titles, lower-case, without Teams' numbering ("2. Participants").
ATTENDEE_SECTIONS = ("attendee details", "attendees", "participants")
OTHER_SECTIONS = ("host details", "panelist details", "panelists", "summary", "in-meeting activities")
EMAIL_HEADERS = ("email", "email address", "e-mail", "participant id (upn)")
MINUTES_HEADERS = ("time in session (minutes)", "time in session", "in-meeting duration", "duration")
JOIN_HEADERS = ("join time", "first join", "first join time", "join time (utc)")
FIRST_NAME_HEADERS = ("first name",)
LAST_NAME_HEADERS = ("last name",)
NAME_HEADERS = ("user name (original name)", "name", "full name")
ROLE_HEADERS = ("role",)
ATTENDED_HEADERS = ("attended",)
NOT_ATTENDEE_ROLES = ("organizer", "presenter", "co-organizer", "host", "panelist")


class ReportNotRecognised(ValueError):
    """No attendee table found: the file is not an attendee report of a known platform."""


@dataclass
class Attendee:
    email: str
    email_key: str
    first_name: str
    last_name: str
    minutes: float
    first_joined_at: datetime | None
    lines: list[int] = field(default_factory=list)


@dataclass
class AttendeeReport:
    platform: str
    attendees: list[Attendee]
    rejects: list[tuple[int, str, dict[str, str]]]  # (line, reason, raw row)
    rows: int  # attendee-table rows read (rejoins, rejects and non-attendees included)

    @property
    def rejoins(self) -> int:
        """Rows that were a second (or later) join of someone already counted."""
        return sum(len(a.lines) for a in self.attendees) - len(self.attendees)

    @property
    def not_attendees(self) -> int:
        """Rows of the table that are not attendees: hosts, presenters, registrants who never joined."""
        return self.rows - sum(len(a.lines) for a in self.attendees) - len(self.rejects)


def decode(data: bytes) -> str:
    """Text of an export: UTF-16 (Teams) by BOM, else UTF-8 (with or without BOM)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


def _delimiter(text: str) -> str:
    head = "\n".join(text.splitlines()[:40])
    return "\t" if head.count("\t") > head.count(",") else ","


def parse_minutes(value: str) -> float | None:
    """``45``, ``45.5``, ``1 hour 5 minutes``, ``1h 2m 3s``, ``01:05:00`` -> minutes."""
    text = value.strip().lower()
    if not text:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    if m := re.fullmatch(r"(\d+):(\d{1,2})(?::(\d{1,2}))?", text):
        h, mi, s = int(m[1]), int(m[2]), int(m[3] or 0)
        return h * 60 + mi + s / 60 if m[3] is not None else int(m[1]) + int(m[2]) / 60
    total = 0.0
    found = False
    for amount, unit in re.findall(
        r"(\d+(?:\.\d+)?)\s*(hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b", text
    ):
        found = True
        n = float(amount)
        total += n * 60 if unit.startswith("h") else n / 60 if unit.startswith("s") else n
    return total if found else None


def _first(headers: list[str], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in headers:
            return headers.index(name)
    return None


def _platform(text: str) -> str:
    lowered = text[:4000].lower()
    if "in-meeting duration" in lowered or "participant id (upn)" in lowered:
        return "teams"
    if "interest rating" in lowered or "email address" in lowered:
        return "gotowebinar"
    if "time in session (minutes)" in lowered or "attendee report" in lowered:
        return "zoom"
    return "generic"


def parse_report(data: bytes, zone: tzinfo) -> AttendeeReport:
    """Attendees of one report; naive times in the file are read in ``zone`` (the webinar's)."""
    text = decode(data)
    rows = list(csv.reader(io.StringIO(text), delimiter=_delimiter(text)))
    platform = _platform(text)
    section = ""
    header: list[str] | None = None
    cols: dict[str, int | None] = {}
    found_table = False
    by_key: dict[str, Attendee] = {}
    rejects: list[tuple[int, str, dict[str, str]]] = []
    table_rows = 0
    for line, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        filled = [c for c in cells if c]
        if not filled:
            continue
        lowered = [c.lower() for c in cells]
        title = re.sub(r"^\d+\.\s*", "", filled[0].lower()) if len(filled) == 1 else ""
        if title and (title in ATTENDEE_SECTIONS + OTHER_SECTIONS or header is None):
            section = title
            header = None
            continue
        email_col = _first(lowered, EMAIL_HEADERS)
        minutes_col = _first(lowered, MINUTES_HEADERS)
        if email_col is not None and minutes_col is not None:
            # A table header. Only the attendee section's table counts (Zoom repeats the shape for hosts).
            in_attendee_section = section in ATTENDEE_SECTIONS or (
                section not in OTHER_SECTIONS and platform in ("teams", "generic")
            )
            header = lowered if in_attendee_section else None
            if header is not None:
                found_table = True
                cols = {
                    "email": email_col,
                    "minutes": minutes_col,
                    "join": _first(lowered, JOIN_HEADERS),
                    "first": _first(lowered, FIRST_NAME_HEADERS),
                    "last": _first(lowered, LAST_NAME_HEADERS),
                    "name": _first(lowered, NAME_HEADERS),
                    "role": _first(lowered, ROLE_HEADERS),
                    "attended": _first(lowered, ATTENDED_HEADERS),
                }
            continue
        if header is None:
            continue
        table_rows += 1
        raw = {header[i]: cells[i] for i in range(min(len(header), len(cells)))}
        value = {name: cells[i] if i is not None and i < len(cells) else "" for name, i in cols.items()}

        if value["role"].lower() in NOT_ATTENDEE_ROLES:
            continue
        if value["attended"].lower() == "no":
            continue  # Zoom lists registrants who never joined; they are not attendees
        address = value["email"]
        key = email_key(address) if address else None
        if not key:
            rejects.append((line, "no valid email address in the attendee row", raw))
            continue
        minutes = parse_minutes(value["minutes"])
        if minutes is None:
            rejects.append((line, f"time in session {value['minutes'][:40]!r} is not a duration", raw))
            continue
        joined = _when(value["join"], zone)
        first, last = value["first"], value["last"]
        if not (first or last) and value["name"]:
            first, _, last = re.sub(r"\s*\(.*\)$", "", value["name"]).partition(" ")
        person = by_key.get(key)
        if person is None:
            by_key[key] = Attendee(address.strip().lower(), key, first, last, minutes, joined, [line])
        else:
            person.minutes += minutes
            person.lines.append(line)
            if joined and (person.first_joined_at is None or joined < person.first_joined_at):
                person.first_joined_at = joined
    if not found_table:
        raise ReportNotRecognised(
            "no attendee table found (expected a section such as 'Attendee Details' or 'Participants' "
            "with an email and a time-in-session column)"
        )
    return AttendeeReport(platform, list(by_key.values()), rejects, table_rows)


def _when(value: str, zone: tzinfo) -> datetime | None:
    text = re.sub(r"\b(CET|CEST|UTC|GMT|EST|EDT|PST|PDT)\b", "", value).strip()
    if not text:
        return None
    try:
        parsed = date_parser.parse(text)
    except (ValueError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)
