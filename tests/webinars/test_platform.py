"""Attendance from the webinar platform's API (paged by token) against a strict local stand-in."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from funnelflow.http_json import PartnerAPIError
from funnelflow.webinars.platform import WebinarPlatformEndpoint, fetch_participants
from tests.fakes.webinar_platform import FakeWebinarPlatform


@pytest.fixture
def platform():
    with FakeWebinarPlatform() as fake:
        yield fake


def _endpoint(fake, **kw) -> WebinarPlatformEndpoint:
    return WebinarPlatformEndpoint(base_url=fake.base_url, token=fake.token, **kw)


def test_pages_are_followed_and_rejoins_summed(platform):
    platform.add("ada@example.org", "Ada Lovelace", "2026-12-10T15:01:00Z", 29 * 60)
    platform.add("bo@example.org", "Bo Brief", "2026-12-10T15:05:00Z", 6 * 60)
    platform.add("ada@example.org", "Ada Lovelace", "2026-12-10T15:35:00Z", 15 * 60)
    platform.add("", "No Mail", "2026-12-10T15:05:00Z", 600)
    platform.add("cy@example.org", "Cy", "not a time", 600)
    slept: list[float] = []
    report = fetch_participants(_endpoint(platform, page_size=2), "81234567890", sleep=slept.append)
    people = {a.email: a for a in report.attendees}
    assert set(people) == {"ada@example.org", "bo@example.org"}
    assert people["ada@example.org"].minutes == 44
    assert people["ada@example.org"].first_joined_at == datetime(2026, 12, 10, 15, 1, tzinfo=UTC)
    assert [(row, reason) for row, reason, _ in report.rejects] == [
        (4, "participant has no valid email address"),
        (5, "participant's duration or join_time is not readable"),
    ]
    assert [r["query"].get("next_page_token", "") != "" for r in platform.requests] == [False, True, True]
    assert slept == []


def test_throttling_is_waited_out_and_a_dead_api_fails_clearly(platform):
    platform.add("ada@example.org", "Ada", "2026-12-10T15:01:00Z", 600)
    platform.fail_page(1, 429, times=2)
    slept: list[float] = []
    report = fetch_participants(_endpoint(platform), "81234567890", sleep=slept.append)
    assert len(report.attendees) == 1 and slept == [0.0, 0.0]
    platform.fail_page(1, 503, times=4)
    with pytest.raises(PartnerAPIError, match="failed 4 times"):
        fetch_participants(_endpoint(platform, backoff_seconds=0.5), "81234567890", sleep=slept.append)
    assert slept[2:] == [0.5, 1.0, 2.0]


def test_a_wrong_token_is_a_clear_error(platform):
    with pytest.raises(PartnerAPIError, match="answered 401"):
        fetch_participants(
            WebinarPlatformEndpoint(base_url=platform.base_url, token="nope"),
            "81234567890",
            client=httpx.Client(),
        )
