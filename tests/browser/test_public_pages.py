"""The public pages in a real browser.

Without JavaScript, on a 375-pixel-wide screen; the lead form across origins.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from funnelflow.db.schema import consents, email_sends, lead_landing, leads, suppressions
from funnelflow.email.tokens import make_token
from funnelflow.identity import email_hash, email_key
from funnelflow.web.app import create_standalone_app
from tests.browser_support import (
    PHONE_WIDTH,
    chromium,
    click_and_wait_for_page,
    readability_problems,
    screenshot,
    serve,
    visible_text,
)

pytestmark = pytest.mark.browser
AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _person(engine, address: str, consent_status: str) -> tuple[int, int, int]:
    with engine.begin() as conn:
        lead = conn.execute(
            sa.insert(leads)
            .values(
                email=address, email_key=email_key(address), first_name="Ada", created_at=AT, updated_at=AT
            )
            .returning(leads.c.id)
        ).scalar_one()
        consent = conn.execute(
            sa.insert(consents)
            .values(
                lead_id=lead, status=consent_status, legal_basis="consent", source="web_form", recorded_at=AT
            )
            .returning(consents.c.id)
        ).scalar_one()
        send = conn.execute(
            sa.insert(email_sends)
            .values(
                message_key="welcome",
                recipient_hash=email_hash(address),
                lead_id=lead,
                template="welcome",
                kind="marketing",
                status="sent",
                claimed_at=AT,
                sent_at=AT,
            )
            .returning(email_sends.c.id)
        ).scalar_one()
    return lead, consent, send


def test_unsubscribe_without_javascript_on_a_phone(site, db):
    _, _, send = _person(db, "ada@example.org", "granted")
    with chromium(width=PHONE_WIDTH, height=812, javascript=False) as browser:
        browser.get(f"{site}/funnelflow/unsubscribe/{make_token('unsubscribe', send)}")
        assert readability_problems(browser) == []
        screenshot(browser, "unsubscribe-375")
        with db.connect() as conn:  # opening the link (as a mail scanner would) changed nothing
            assert conn.execute(sa.select(sa.func.count()).select_from(suppressions)).scalar_one() == 0
        click_and_wait_for_page(browser, "form button[type=submit]")
        assert "unsubscribed" in visible_text(browser).lower()
        assert readability_problems(browser) == []
        screenshot(browser, "unsubscribe-done-375")
    with db.connect() as conn:
        reasons = conn.execute(sa.select(suppressions.c.reason)).scalars().all()
    assert reasons == ["unsubscribe"]


def test_confirmation_without_javascript_on_a_phone(site, db):
    lead, consent, _ = _person(db, "bo@example.org", "pending")
    with chromium(width=PHONE_WIDTH, height=812, javascript=False) as browser:
        browser.get(f"{site}/funnelflow/confirm/{make_token('confirm', consent)}")
        assert readability_problems(browser) == []
        screenshot(browser, "confirm-375")
        with db.connect() as conn:  # opening the link changed nothing
            assert conn.execute(sa.select(sa.func.count()).select_from(consents)).scalar_one() == 1
        click_and_wait_for_page(browser, "form button[type=submit]")
        assert "confirmed" in visible_text(browser).lower()
        assert readability_problems(browser) == []
        screenshot(browser, "confirm-done-375")
    with db.connect() as conn:
        newest = conn.execute(
            sa.select(consents.c.status)
            .where(consents.c.lead_id == lead)
            .order_by(consents.c.id.desc())
            .limit(1)
        ).scalar_one()
    assert newest == "granted"


MARKETING_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Demo request</title></head><body>
<form id="demo"><label>Email <input name="email" type="email" required></label>
<label><input name="consent" type="checkbox"> Send me the newsletter</label>
<button type="submit">Request a demo</button></form><p id="result"></p>
<script>
const endpoint = new URLSearchParams(location.search).get('endpoint');
document.getElementById('demo').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    const resp = await fetch(endpoint, {method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({email: form.get('email'), consent: form.get('consent') === 'on',
                            utm_source: 'site'})});
    document.getElementById('result').textContent = 'status ' + resp.status;
  } catch (err) {
    document.getElementById('result').textContent = 'blocked';
  }
});
</script></body></html>"""


def _marketing_site():
    """A page on another origin that posts the lead form with fetch, as a marketing site's form does."""
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return MARKETING_PAGE

    return app


def _submit(browser, page: str, endpoint: str, address: str) -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{page}/?endpoint={endpoint}")
    browser.find_element("name", "email").send_keys(address)
    browser.find_element("name", "consent").click()
    browser.find_element("css selector", "button[type=submit]").click()
    return WebDriverWait(browser, 30).until(lambda b: b.find_element("id", "result").text)


def _landed(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(p) for p in conn.execute(sa.select(lead_landing.c.payload)).scalars()]


def test_the_lead_form_posts_from_the_marketing_site_and_no_other_origin(db, monkeypatch):
    monkeypatch.setenv("FUNNELFLOW_SECRET_KEY", "browser-test-key")
    with serve(_marketing_site()) as marketing, serve(_marketing_site()) as elsewhere:
        monkeypatch.setenv("FUNNELFLOW_FORM_ORIGINS", marketing)
        with serve(create_standalone_app(db)) as public, chromium() as browser:
            endpoint = f"{public}/funnelflow/leads"
            assert _submit(browser, marketing, endpoint, "ada@example.org") == "status 202"
            screenshot(browser, "lead-form-cross-origin")
            assert _submit(browser, elsewhere, endpoint, "eve@example.org") == "blocked"
    [payload] = _landed(db)
    assert payload["email"] == "ada@example.org" and payload["consent"] is True
