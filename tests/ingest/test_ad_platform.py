"""The ad-platform source against the local fake: paging, since-watermark, 429/5xx,
resuming after a failure."""

from __future__ import annotations

import pytest

from funnelflow.ingest.adplatform import AdPlatformEndpoint, AdPlatformError, fetch_new_leads, state_key
from funnelflow.ingest.config import load_header_mapping, load_sources
from funnelflow.ingest.landing import process_landing
from tests.factories import AD_SOURCE, ad_endpoint, count, rows
from tests.fakes.ad_platform import FakeAdPlatform


def _leads(fake: FakeAdPlatform, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        fake.add_lead(
            f"L{i:03d}",
            f"2026-11-20T10:{i % 60:02d}:00+00:00",
            {
                "email": f"person{i}@example.com",
                "first_name": f"P{i}",
                "company_name": "Acme",
                "phone_number": "",
            },
        )


@pytest.fixture
def fake():
    with FakeAdPlatform() as server:
        yield server


def test_pages_land_then_become_ad_leads_and_the_next_run_asks_only_since(engine, fake):
    _leads(fake, 12)
    report = fetch_new_leads(engine, ad_endpoint(fake), AD_SOURCE, sleep=lambda s: None)
    assert (report.pages, report.fetched, report.landed) == (3, 12, 12)
    totals = process_landing(engine, load_sources(), load_header_mapping())
    assert totals[AD_SOURCE].as_dict() == {
        "rows_in": 12,
        "inserted": 12,
        "updated": 0,
        "rejected": 0,
        "duplicates": 0,
    }
    touch = rows(
        engine,
        "select channel, touch_type, source, campaign, utm_campaign, source_ref from touchpoints order by id",
    )[0]
    assert touch == {
        "channel": "ad_form",
        "touch_type": "ad_lead",
        "source": AD_SOURCE,
        "campaign": "linkedin-demo-request",  # the source's slug; the platform's own name is the UTM campaign
        "utm_campaign": "Demo Q4",
        "source_ref": f"ad:{AD_SOURCE}:L000",
    }
    assert rows(engine, "select company from leads order by id")[0]["company"] == "Acme"

    fake.requests.clear()
    _leads(fake, 2, start=40)
    again = fetch_new_leads(engine, ad_endpoint(fake), AD_SOURCE, sleep=lambda s: None)
    assert fake.requests[0]["query"]["since"] == "2026-11-20T10:11:00+00:00"
    assert again.landed == 2  # the lead at the watermark itself comes back and is recognised
    process_landing(engine, load_sources(), load_header_mapping())
    assert count(engine, "leads") == 14 and count(engine, "touchpoints") == 14


def test_429_and_5xx_are_retried(engine, fake):
    _leads(fake, 6)
    fake.fail_page(1, 429, times=1)
    fake.fail_page(2, 503, times=2)
    waits: list[float] = []
    endpoint = ad_endpoint(fake, backoff_seconds=1.0)
    report = fetch_new_leads(engine, endpoint, AD_SOURCE, sleep=waits.append)
    assert report.landed == 6
    # The 429's Retry-After (0 s) is honoured; the 503s wait 1 s, then 2 s (exponential backoff).
    assert waits == [0.0, 1.0, 2.0]


def test_a_failure_halfway_resumes_at_the_failed_page_without_skipping(engine, fake):
    _leads(fake, 15)
    fake.fail_page(2, 500, times=4)  # more than the attempts: the run fails on page 2
    with pytest.raises(AdPlatformError, match="resumes here"):
        fetch_new_leads(engine, ad_endpoint(fake, attempts=3), AD_SOURCE, sleep=lambda s: None)
    assert count(engine, "lead_landing") == 5
    state = rows(engine, "select value from pipeline_state where key = :k", k=state_key(AD_SOURCE))[0][
        "value"
    ]
    assert "cursor" in str(state) and state_key(AD_SOURCE)

    fake.requests.clear()
    report = fetch_new_leads(engine, ad_endpoint(fake, attempts=3), AD_SOURCE, sleep=lambda s: None)
    assert "cursor" in fake.requests[0]["query"]  # resumed, not restarted
    assert report.landed == 10
    process_landing(engine, load_sources(), load_header_mapping())
    assert sorted(r["email_key"] for r in rows(engine, "select email_key from leads")) == sorted(
        f"person{i}@example.com" for i in range(15)
    )


def test_a_wrong_token_is_an_error_not_an_empty_page(engine, fake):
    bad = AdPlatformEndpoint(base_url=fake.base_url, token="wrong", form_id=fake.form_id, backoff_seconds=0)
    waits: list[float] = []
    with pytest.raises(AdPlatformError, match="answered 401"):
        fetch_new_leads(engine, bad, AD_SOURCE, sleep=waits.append)
    assert waits == [] and len(fake.requests) == 1  # not retried
    assert count(engine, "lead_landing") == 0
