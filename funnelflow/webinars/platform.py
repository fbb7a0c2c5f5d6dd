"""Attendance from the webinar platform's API: a Zoom-style participants report, paged by token.

``GET {base_url}/v2/report/webinars/{webinar_id}/participants?page_size=N&next_page_token=T``
with ``Authorization: Bearer <token>`` answers ``{"participants": [{"user_email",
"name", "join_time", "leave_time", "duration" (seconds)}, ...], "next_page_token": str}``;
an empty token ends the report. One row per join, so rejoins arrive as several rows
and are summed like a file's. The whole report is read, then imported at once through
the same path as an attendee file; importing it again changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from funnelflow.http_json import PartnerAPIError, get_json
from funnelflow.identity import email_key
from funnelflow.webinars.attendance import Attendee, AttendeeReport


@dataclass(frozen=True)
class WebinarPlatformEndpoint:
    base_url: str
    token: str
    page_size: int = 300
    timeout: float = 30.0
    attempts: int = 4
    backoff_seconds: float = 1.0


def fetch_participants(
    endpoint: WebinarPlatformEndpoint,
    platform_webinar_id: str,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_pages: int = 10_000,
) -> AttendeeReport:
    own = client is None
    client = client or httpx.Client(timeout=endpoint.timeout)
    url = f"{endpoint.base_url.rstrip('/')}/v2/report/webinars/{platform_webinar_id}/participants"
    by_key: dict[str, Attendee] = {}
    rejects: list[tuple[int, str, dict[str, str]]] = []
    rows = 0
    token = ""
    try:
        for _ in range(max_pages):
            params: dict[str, object] = {"page_size": endpoint.page_size}
            if token:
                params["next_page_token"] = token
            body = get_json(
                client,
                url,
                params,
                {"Authorization": f"Bearer {endpoint.token}"},
                what="webinar platform",
                attempts=endpoint.attempts,
                backoff_seconds=endpoint.backoff_seconds,
                sleep=sleep,
            )
            participants = body.get("participants") if isinstance(body, dict) else None
            if not isinstance(participants, list):
                raise PartnerAPIError("webinar platform page has no 'participants' list")
            for item in participants:
                rows += 1
                _add(by_key, rejects, rows, item)
            token = str(body.get("next_page_token") or "")
            if not token:
                break
    finally:
        if own:
            client.close()
    return AttendeeReport("api", list(by_key.values()), rejects, rows)


def _add(by_key: dict[str, Attendee], rejects: list, row: int, item: object) -> None:
    if not isinstance(item, dict):
        rejects.append((row, "participant is not an object", {"value": str(item)[:200]}))
        return
    raw = {k: str(v)[:200] for k, v in item.items()}
    key = email_key(str(item.get("user_email") or ""))
    if not key:
        rejects.append((row, "participant has no valid email address", raw))
        return
    try:
        minutes = float(item.get("duration")) / 60
        joined = datetime.fromisoformat(str(item.get("join_time")).replace("Z", "+00:00")).astimezone(UTC)
    except (TypeError, ValueError):
        rejects.append((row, "participant's duration or join_time is not readable", raw))
        return
    first, _, last = str(item.get("name") or "").partition(" ")
    person = by_key.get(key)
    if person is None:
        by_key[key] = Attendee(
            str(item["user_email"]).strip().lower(), key, first, last, minutes, joined, [row]
        )
    else:
        person.minutes += minutes
        person.lines.append(row)
        person.first_joined_at = min(person.first_joined_at or joined, joined)
