"""Limited-time offers through the public app: the GET claims nothing, the POST once; expired, sold out,
forged tokens, concurrent claims."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from funnelflow.campaigns import offers
from funnelflow.db.schema import campaign_offers, touchpoints
from funnelflow.email import tokens
from funnelflow.web.app import MOUNT_PATH, create_standalone_app
from funnelflow.web.middleware import SECURITY_HEADERS
from funnelflow.web.offers import offer_page_policy
from tests.campaigns.factories import NEWSLETTER, write_campaign
from tests.factories import add_person

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


def _url(slug: str, lead: int) -> str:
    return f"{MOUNT_PATH}/offers/{offers.make_offer_token(slug, lead)}"


OFFER = "https://example.com/offer?utm_source=newsletter&utm_medium=email&utm_campaign=test-news"


def test_the_link_shows_a_page_and_only_its_button_claims(engine, client, campaign):
    [lead] = _leads(engine, 1)
    for _ in range(3):  # a mail scanner opening the link, several times
        page = client.get(_url(campaign.slug, lead))
        assert page.status_code == 200 and "Test newsletter" in page.text
    # A plain form posting back to the same link: it works without JavaScript.
    assert '<form method="post">' in page.text and '<button type="submit">' in page.text
    assert "<script" not in page.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page.text
    assert _claims(engine) == []
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(campaign_offers)).scalar_one() == 0
    claimed = client.post(_url(campaign.slug, lead))
    assert claimed.status_code == 303 and claimed.headers["location"] == OFFER
    assert _claims(engine) == [lead]
    again = client.get(_url(campaign.slug, lead))  # who claimed gets the page again, reading only
    assert again.status_code == 200 and '<form method="post">' in again.text
    repeat = client.post(_url(campaign.slug, lead))  # their button: sent on again, not counted again
    assert repeat.status_code == 303 and repeat.headers["location"] == OFFER
    assert _claims(engine) == [lead]


def test_the_page_lets_its_form_lead_on_to_the_offer_site(engine, client, campaign):
    """Browsers apply the page's form-action to the redirect after the POST: it names the offer's
    origin, and only on the offer page."""
    [lead] = _leads(engine, 1)
    page = client.get(_url(campaign.slug, lead))
    policy = page.headers["content-security-policy"]
    assert "form-action 'self' https://example.com;" in policy
    assert policy.replace(" https://example.com", "") == SECURITY_HEADERS["Content-Security-Policy"]
    other = client.get(f"{MOUNT_PATH}/offers/garbage")
    assert other.headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    for url, named in (
        ("http://127.0.0.1:8123/offer?x=1", "form-action 'self' http://127.0.0.1:8123;"),
        ("https://user:pw@Shop.Example/o", "form-action 'self' https://shop.example;"),  # origin only
        ("https://shop.example:99999/", "form-action 'self';"),  # nothing it could name safely
        ("https://sh op;x/", "form-action 'self';"),
    ):
        assert named in offer_page_policy(url), url


def test_claim_once_then_redirect_again_then_sold_out(engine, client, campaign):
    ids = _leads(engine, 5)
    first = client.post(_url(campaign.slug, ids[0]))
    assert first.status_code == 303 and first.headers["location"] == OFFER
    assert client.post(_url(campaign.slug, ids[0])).status_code == 303  # the same person: no second claim
    assert _claims(engine) == [ids[0]]
    assert [client.post(_url(campaign.slug, i)).status_code for i in ids[1:4]] == [303, 303, 410]  # limit 3
    sold_out = client.post(_url(campaign.slug, ids[4]))
    assert "sold out" in sold_out.text and sold_out.headers["referrer-policy"] == "no-referrer"
    shown = client.get(_url(campaign.slug, ids[4]))  # the link itself says so too, before any button
    assert shown.status_code == 410 and "sold out" in shown.text
    assert _claims(engine) == sorted(ids[:3])
    assert client.get(_url(campaign.slug, ids[1])).status_code == 200  # who claimed still gets the page
    assert client.post(_url(campaign.slug, ids[1])).status_code == 303  # and through, sold out or not
    with engine.connect() as conn:
        assert conn.execute(sa.select(campaign_offers.c.claims)).scalar_one() == 3


def test_forged_and_foreign_tokens_are_refused(engine, client, campaign):
    [lead] = _leads(engine, 1)
    good = offers.make_offer_token(campaign.slug, lead)
    kind, slug, lead_id, sig = good.split(".")
    invite = tokens.make_scoped_token("webinar_invite", campaign.slug, lead)  # another purpose, same slug
    for token in (
        f"{kind}.{slug}.{int(lead_id) + 1}.{sig}",
        f"{kind}.other-news.{lead_id}.{sig}",
        f"0.{slug}.{lead_id}.{sig}",
        invite,
        invite.split(".", 1)[1],
        "garbage",
        f"{slug}.{lead_id}.x",
    ):
        for method in (client.get, client.post):
            resp = method(f"{MOUNT_PATH}/offers/{token}")
            assert resp.status_code == 404 and "not valid" in resp.text
    # A valid signature for a campaign that does not exist (or has no offer) is no offer either.
    assert client.post(_url("no-such", lead)).status_code == 404
    assert _claims(engine) == []


def test_links_sent_before_the_shared_tokens_still_work(engine, client, campaign):
    """Offer links used to read ``<slug>.<lead>.<signature>``, an HMAC of ``offer:<slug>:<lead>``."""
    import base64
    import hashlib
    import hmac

    [lead] = _leads(engine, 1)
    mac = hmac.new(tokens._key(), f"offer:{campaign.slug}:{lead}".encode(), hashlib.sha256).digest()
    earlier = f"{campaign.slug}.{lead}.{base64.urlsafe_b64encode(mac[:18]).decode('ascii')}"
    assert offers.read_offer_token(earlier) == (campaign.slug, lead)
    assert client.get(f"{MOUNT_PATH}/offers/{earlier}").status_code == 200
    assert client.post(f"{MOUNT_PATH}/offers/{earlier}").status_code == 303
    assert _claims(engine) == [lead]
    tampered = earlier[:-1] + ("A" if earlier[-1] != "A" else "B")
    assert client.post(f"{MOUNT_PATH}/offers/{tampered}").status_code == 404


def test_concurrent_posts_never_claim_more_than_the_limit(engine, campaign):
    ids = _leads(engine, 10)
    app = create_standalone_app(engine)
    barrier = threading.Barrier(len(ids))
    codes: list[int] = []

    def press(lead_id: int) -> None:
        with TestClient(app, follow_redirects=False) as own:
            barrier.wait()
            codes.append(own.post(_url(campaign.slug, lead_id)).status_code)

    threads = [threading.Thread(target=press, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [303] * 3 + [410] * 7
    assert len(_claims(engine)) == 3


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
    for method in (client.get, client.post):
        resp = method(_url(campaign.slug, lead))
        assert resp.status_code == 410 and "expired" in resp.text
    assert _claims(engine) == []


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
