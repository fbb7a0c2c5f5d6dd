"""Limited-time offers through the public app: claim once, expired, sold out, forged tokens, concurrent clicks."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from funnelflow.campaigns import offers
from funnelflow.db.schema import campaign_offers, touchpoints
from funnelflow.web.app import MOUNT_PATH, create_standalone_app
from tests.campaigns.conftest import NEWSLETTER, write_campaign
from tests.email_send.conftest import add_person

NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def campaign(tmp_path, monkeypatch):
    monkeypatch.setenv("FUNNELFLOW_CONFIG_DIR", str(tmp_path))
    return write_campaign(tmp_path / "campaigns")


@pytest.fixture
def client(engine):
    return TestClient(create_standalone_app(engine), follow_redirects=False)


def _leads(engine, n: int) -> list[int]:
    with engine.begin() as conn:
        return [add_person(conn, f"o{i}@example.com") for i in range(n)]


def _claims(engine) -> list[int]:
    with engine.connect() as conn:
        return sorted(
            conn.execute(
                sa.select(touchpoints.c.lead_id).where(touchpoints.c.touch_type == "offer_claimed")
            ).scalars()
        )


def test_claim_once_then_redirect_again_then_sold_out(engine, client, campaign):
    ids = _leads(engine, 5)
    url = lambda lead: f"{MOUNT_PATH}/offers/{offers.make_offer_token(campaign.slug, lead)}"  # noqa: E731
    first = client.get(url(ids[0]))
    assert first.status_code == 303
    assert first.headers["location"] == (
        "https://example.com/offer?utm_source=newsletter&utm_medium=email&utm_campaign=test-news"
    )
    assert client.get(url(ids[0])).status_code == 303  # the same person again: no second claim
    assert _claims(engine) == [ids[0]]
    assert [client.get(url(i)).status_code for i in ids[1:4]] == [303, 303, 410]  # limit 3
    sold_out = client.get(url(ids[4]))
    assert "sold out" in sold_out.text and sold_out.headers["referrer-policy"] == "no-referrer"
    assert _claims(engine) == sorted(ids[:3])
    assert client.get(url(ids[1])).status_code == 303  # who claimed still gets through
    with engine.connect() as conn:
        assert conn.execute(sa.select(campaign_offers.c.claims)).scalar_one() == 3


def test_forged_and_foreign_tokens_are_refused(engine, client, campaign):
    [lead] = _leads(engine, 1)
    good = offers.make_offer_token(campaign.slug, lead)
    slug, lead_id, sig = good.split(".")
    for token in (
        f"{slug}.{int(lead_id) + 1}.{sig}",
        f"other-news.{lead_id}.{sig}",
        "garbage",
        f"{slug}.{lead_id}.x",
    ):
        resp = client.get(f"{MOUNT_PATH}/offers/{token}")
        assert resp.status_code == 404 and "not valid" in resp.text
    # A valid signature for a campaign that does not exist (or has no offer) is no offer either.
    assert client.get(f"{MOUNT_PATH}/offers/{offers.make_offer_token('no-such', lead)}").status_code == 404
    assert _claims(engine) == []


def test_expired_offer_claims_nothing(engine, campaign):
    [lead] = _leads(engine, 1)
    late = campaign.spec.offer.expires_at + timedelta(seconds=1)
    assert offers.claim_offer(engine, campaign, lead, late).status == "expired"
    assert _claims(engine) == []


def test_expired_page(engine, client, tmp_path, campaign):
    write_campaign(
        tmp_path / "campaigns",
        text=NEWSLETTER.replace("2099-12-31T23:59:00+01:00", "2020-01-01T00:00:00+00:00"),
    )
    [lead] = _leads(engine, 1)
    resp = client.get(f"{MOUNT_PATH}/offers/{offers.make_offer_token(campaign.slug, lead)}")
    assert resp.status_code == 410 and "expired" in resp.text


def test_concurrent_clicks_never_claim_more_than_the_limit(engine, campaign):
    ids = _leads(engine, 12)
    barrier = threading.Barrier(12)
    outcomes: list[str] = []

    def click(lead_id: int) -> None:
        barrier.wait()
        outcomes.append(offers.claim_offer(engine, campaign, lead_id, NOW).status)

    threads = [threading.Thread(target=click, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["claimed"] * 3 + ["sold_out"] * 9
    assert len(_claims(engine)) == 3
    with engine.connect() as conn:
        assert conn.execute(sa.select(campaign_offers.c.claims)).scalar_one() == 3


def test_a_raised_limit_in_the_file_applies_at_once(engine, tmp_path, campaign):
    ids = _leads(engine, 5)
    outcomes = [offers.claim_offer(engine, campaign, i, NOW).status for i in ids[:4]]
    assert outcomes == ["claimed"] * 3 + ["sold_out"]
    raised = write_campaign(tmp_path / "campaigns", text=NEWSLETTER.replace("limit: 3}", "limit: 4}"))
    assert [offers.claim_offer(engine, raised, i, NOW).status for i in ids[3:]] == ["claimed", "sold_out"]
    assert len(_claims(engine)) == 4
