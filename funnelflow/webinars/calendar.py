"""Calendar files (RFC 5545) for webinar registrants, and add-to-calendar links.

One ``VEVENT`` per webinar: its ``UID`` is stable for the webinar, so a rescheduled
event replaces the old one in the registrant's calendar (``SEQUENCE`` goes up with
every change) and a cancellation removes it (``METHOD:CANCEL``, ``STATUS:CANCELLED``).
Times are written in UTC (``...Z``), computed from the file's local time and IANA zone,
so no ``VTIMEZONE`` is needed and daylight-saving changes cannot shift the event.
Lines end in CRLF and are folded at 75 octets without splitting a UTF-8 character.
The file is the same for every registrant (no personal data), so it can ride on the
batched sending path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

PRODID = "-//funnelflow//webinars//EN"
UID_DOMAIN = "funnelflow.webinars"


@dataclass(frozen=True)
class CalendarEvent:
    slug: str
    title: str
    description: str
    starts_at: datetime  # aware
    ends_at: datetime  # aware
    join_url: str
    organizer_name: str
    sequence: int
    cancelled: bool = False


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _escape(text: str) -> str:
    """TEXT escaping (RFC 5545 3.3.11): backslash, semicolon, comma and newlines."""
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _fold(line: str) -> str:
    """Fold a content line at 75 octets (RFC 5545 3.1); continuation lines start with one space."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line
    parts: list[str] = []
    start = 0
    limit = 75
    while start < len(data):
        end = min(start + limit, len(data))
        # Never cut inside a UTF-8 sequence: back up to a lead byte.
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start = end
        limit = 74  # the leading space counts toward the 75 octets
    return "\r\n ".join(parts)


def ics(event: CalendarEvent, stamped_at: datetime) -> bytes:
    """The calendar file for ``event``; ``stamped_at`` (the run's time) is its DTSTAMP."""
    method = "CANCEL" if event.cancelled else "PUBLISH"
    description = event.description.strip()
    description = f"{description}\n\nJoin: {event.join_url}" if description else f"Join: {event.join_url}"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        f"METHOD:{method}",
        "BEGIN:VEVENT",
        f"UID:webinar-{event.slug}@{UID_DOMAIN}",
        f"DTSTAMP:{_utc(stamped_at)}",
        f"DTSTART:{_utc(event.starts_at)}",
        f"DTEND:{_utc(event.ends_at)}",
        f"SEQUENCE:{event.sequence}",
        f"SUMMARY:{_escape(event.title)}",
        f"DESCRIPTION:{_escape(description)}",
        f"URL:{event.join_url}",
        f"LOCATION:{_escape(event.join_url)}",
        f"ORGANIZER;CN={_quote_param(event.organizer_name)}:mailto:noreply@{UID_DOMAIN}",
        f"STATUS:{'CANCELLED' if event.cancelled else 'CONFIRMED'}",
        "TRANSP:OPAQUE",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode("utf-8")


def _quote_param(value: str) -> str:
    """A parameter value: quoted, with the characters RFC 5545 forbids there removed."""
    cleaned = "".join(ch for ch in value if ch not in '"\r\n' and ord(ch) >= 0x20)
    return f'"{cleaned}"'


def google_calendar_link(event: CalendarEvent) -> str:
    query = urlencode(
        {
            "action": "TEMPLATE",
            "text": event.title,
            "dates": f"{_utc(event.starts_at)}/{_utc(event.ends_at)}",
            "details": f"{event.description.strip()}\n\nJoin: {event.join_url}".strip(),
            "location": event.join_url,
        }
    )
    return f"https://calendar.google.com/calendar/render?{query}"


def outlook_calendar_link(event: CalendarEvent) -> str:
    query = urlencode(
        {
            "path": "/calendar/action/compose",
            "rru": "addevent",
            "subject": event.title,
            "startdt": event.starts_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "enddt": event.ends_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "body": f"{event.description.strip()}\n\nJoin: {event.join_url}".strip(),
            "location": event.join_url,
        }
    )
    return f"https://outlook.office.com/calendar/0/deeplink/compose?{query}"
