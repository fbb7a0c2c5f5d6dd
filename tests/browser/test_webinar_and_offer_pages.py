"""The webinar registration, invitation and offer pages in a real browser: no JavaScript, a 375-pixel phone.

Each page is opened, checked readable (no sideways scroll, visible text), its form
submitted by clicking its button, and the result checked on the page and in the database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from funnelflow.db.schema import campaign_offers, leads, touchpoints, webinar_registrations
from funnelflow.webinars import registrations
from funnelflow.webinars.config import load_webinar
from funnelflow.webinars.tokens import invitation_token
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

WEBINAR = """title: Planning your retirement, step by step
description: A long description of what the session covers, long enough to wrap on a phone's screen.
starts_at: "{starts}"
timezone: Europe/Berlin
duration_minutes: 60
join_url: https://zoom.example.com/j/1
capacity: 5
host: Dana Example
"""


@pytest.fixture
def webinar(db, config_dir):
    """A webinar a week from now (the pages judge by the wall clock), in the files and the database."""
    starts = (datetime.now(UTC) + timedelta(days=7)).astimezone(ZoneInfo("Europe/Berlin"))
    path = config_dir / "webinars" / "retirement.yaml"
    path.write_text(WEBINAR.format(starts=starts.replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:00")))
    w = load_webinar(path)
    registrations.sync_webinars(db, [w], datetime.now(UTC))
    return w


def _registrations(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.select(webinar_registrations.c.status, webinar_registrations.c.source).order_by(
                    webinar_registrations.c.id
                )
            )
        ]


def test_javascript_is_really_off_in_these_sessions():
    """The no-JavaScript tests mean something only if a page's script does not run."""
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return '<p id="p">static</p><script>document.getElementById("p").textContent = "scripted"</script>'

    with serve(app) as url:
        with chromium(width=PHONE_WIDTH, height=812, javascript=False) as browser:
            browser.get(url)
            assert browser.find_element("id", "p").text == "static"
        with chromium() as browser:
            browser.get(url)
            assert browser.find_element("id", "p").text == "scripted"


def test_webinar_registration_form_without_javascript_on_a_phone(site, db, webinar):
    with chromium(width=PHONE_WIDTH, height=812, javascript=False) as browser:
        browser.get(f"{site}/funnelflow/webinars/{webinar.slug}/register")
        assert "Planning your retirement" in visible_text(browser)
        assert readability_problems(browser) == []
        screenshot(browser, "webinar-register-375")
        assert _registrations(db) == []  # opening the page stored nothing
        browser.find_element("name", "email").send_keys("ada@example.org")
        browser.find_element("name", "first_name").send_keys("Ada")
        browser.find_element("name", "consent").click()
        click_and_wait_for_page(browser, "form button[type=submit]")
        text = visible_text(browser)
        assert "You're registered" in text and "ada@example.org" not in text
        assert readability_problems(browser) == []
        screenshot(browser, "webinar-registered-375")
    assert _registrations(db) == [("registered", "form")]


def test_webinar_invitation_registers_only_on_the_button_without_javascript_on_a_phone(site, db, webinar):
    with db.begin() as conn:
        lead = conn.execute(
            sa.insert(leads).values(email="bo@example.org", email_key="bo@example.org").returning(leads.c.id)
        ).scalar_one()
    with chromium(width=PHONE_WIDTH, height=812, javascript=False) as browser:
        browser.get(f"{site}/funnelflow/webinars/r/{invitation_token(webinar.slug, lead)}")
        assert "Planning your retirement" in visible_text(browser)
        assert readability_problems(browser) == []
        screenshot(browser, "webinar-invitation-375")
        assert _registrations(db) == []  # a mail scanner opening the link registers nobody
        click_and_wait_for_page(browser, "form button[type=submit]")
        assert "You're registered" in visible_text(browser)
        assert readability_problems(browser) == []
        screenshot(browser, "webinar-invitation-registered-375")
    assert _registrations(db) == [("registered", "invitation")]


# --------------------------------------------------------------------------- the offer link
#
# INTEGRATOR: this test is written for the offer link as changed by the webinars/campaigns
# helper: GET /funnelflow/offers/{token} shows a page with a button and claims nothing; the
# button's POST claims (once) and goes on (303) to the offer. While the GET still claims and
# redirects, this test fails at "opening the link claimed nothing". Run it after merging:
#   .venv/bin/python -m pytest -m browser tests/browser -k offer_link
# Note for that change: the public app's CSP says ``form-action 'self'``, and Chromium applies
# form-action to the redirect after a form's POST, so a 303 from the POST to the offer's own
# site is blocked (the click then never arrives: a timeout at the first click below) unless
# the offer page's own CSP also names the offer's origin in form-action. Checked here with a
# stand-in of the change: with that CSP the test passes; with the app-wide CSP it times out.

OFFER_CAMPAIGN = """\
name: Browser offer
description: An offer for the browser test
owner: marketing-ops
schedule: {{cron: "0 9 * * TUE", timezone: Europe/Berlin}}
audience:
  all:
    - lifecycle_stage: [lead, mql]
content: {{markdown: offer.md}}
subject: An offer
offer: {{url: "{url}", expires_at: "2099-12-31T23:59:00+01:00", limit: 5}}
"""


def _shop():
    """The offer's destination (the marketing site's offer page), on loopback: where the claim leads."""
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    app = FastAPI()

    @app.get("/offer", response_class=HTMLResponse)
    def offer() -> str:
        return '<!doctype html><meta name="viewport" content="width=device-width"><h1>Your offer</h1>'

    return app


def _claims(engine) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(touchpoints.c.lead_id).where(touchpoints.c.touch_type == "offer_claimed")
            ).scalars()
        )


def test_offer_link_shows_a_button_and_only_the_button_claims_without_javascript_on_a_phone(
    site, db, config_dir
):
    from funnelflow.campaigns.offers import make_offer_token

    with db.begin() as conn:
        lead = conn.execute(
            sa.insert(leads).values(email="cy@example.org", email_key="cy@example.org").returning(leads.c.id)
        ).scalar_one()
    with serve(_shop()) as shop:
        (config_dir / "campaigns" / "offer.md").write_text("# Offer\n\n[Claim it](offer:)\n")
        (config_dir / "campaigns" / "browser-offer.yaml").write_text(
            OFFER_CAMPAIGN.format(url=f"{shop}/offer")
        )
        link = f"{site}/funnelflow/offers/{make_offer_token('browser-offer', lead)}"
        with chromium(width=PHONE_WIDTH, height=812, javascript=False) as browser:
            browser.get(link)
            assert _claims(db) == [], "opening the link claimed nothing"  # mail scanners open links
            assert browser.current_url == link  # a page, not a redirect to the offer
            assert readability_problems(browser) == []
            screenshot(browser, "offer-375")
            click_and_wait_for_page(
                browser, "form[method=post i] button, form[method=post i] input[type=submit]"
            )
            assert browser.current_url.startswith(f"{shop}/offer")  # on to the offer, utm tags added
            assert "Your offer" in visible_text(browser)
            screenshot(browser, "offer-claimed-375")
            browser.get(link)  # the same person again: a page, and no second claim
            click_and_wait_for_page(
                browser, "form[method=post i] button, form[method=post i] input[type=submit]"
            )
    assert _claims(db) == [lead]
    with db.connect() as conn:
        assert conn.execute(sa.select(campaign_offers.c.claims)).scalar_one() == 1
