"""``GET/POST /funnelflow/offers/{token}``: a campaign's limited-time offer link.

The token names the campaign and the lead (signed with the shared scoped tokens of
``funnelflow.email.tokens``, no address). The GET changes nothing, since mail scanners
open links: it shows the offer and a Claim button (a plain form, no JavaScript), also
to someone who claimed already, or says plainly that the offer has expired or is sold
out. Only the POST claims: before the offer's ``expires_at`` and under its ``limit``,
the claim is recorded once per person (a touch ``offer_claimed``) and the browser
goes on (303) to the offer; the same person's button goes on again without a second
claim. The limit is held by the database (see ``funnelflow.campaigns.offers``), so
concurrent claims never exceed it.

The page's Content-Security-Policy adds the offer's origin to ``form-action``: browsers
apply it to the redirect that follows the form's POST, and the app-wide ``'self'`` would
stop the person at our own door.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from funnelflow.db.schema import utcnow
from funnelflow.web import pages
from funnelflow.web.app import engine_of
from funnelflow.web.middleware import SECURITY_HEADERS

log = logging.getLogger(__name__)

router = APIRouter()

_PAGES = {
    "unknown": (404, "Link not valid", "This offer link is not valid. Please use the link from your email."),
    "expired": (410, "This offer has ended", "Sorry: this offer has expired and can no longer be claimed."),
    "sold_out": (
        410,
        "This offer is sold out",
        "Sorry: everyone this offer was meant for has claimed it already, so there is none left.",
    ),
}


def _message(status: str) -> HTMLResponse:
    return pages.message(*_PAGES[status])


def _campaign_and_lead(token: str):
    """The campaign (its file as it is now) and lead a valid token names; ``(None, 0)`` otherwise."""
    from funnelflow.campaigns.config import CampaignError, find_campaign
    from funnelflow.campaigns.offers import read_offer_token
    from funnelflow.email.tokens import InvalidToken

    try:
        slug, lead_id = read_offer_token(token)
        return find_campaign(slug), lead_id
    except (InvalidToken, CampaignError):
        return None, 0


def _answer(outcome) -> Response:
    if outcome.redirect_to:
        return RedirectResponse(outcome.redirect_to, status_code=303)  # headers: funnelflow.web.middleware
    return _message(outcome.status)


@router.get("/offers/{token}", response_class=HTMLResponse)
async def offer_page(token: str, request: Request) -> Response:
    from funnelflow.campaigns.offers import offer_state

    campaign, lead_id = _campaign_and_lead(token)
    if campaign is None:
        return _message("unknown")
    outcome = await run_in_threadpool(offer_state, engine_of(request), campaign, lead_id, utcnow())
    if outcome.status not in ("open", "already"):
        return _answer(outcome)
    offer = campaign.spec.offer
    local = offer.expires_at.astimezone(campaign.spec.schedule.zone)
    page = pages.page(
        "offer.html",
        title="Your offer",
        campaign_name=campaign.spec.name,
        expires_local=f"{local:%A %d %B %Y, %H:%M} ({campaign.spec.schedule.timezone})",
    )
    page.headers["Content-Security-Policy"] = offer_page_policy(offer.url)
    return page


_HOST = re.compile(r"^[a-z0-9.-]+$")


def offer_page_policy(offer_url: str) -> str:
    """The app-wide CSP with the offer's origin (scheme, host, port; nothing else) in ``form-action``."""
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    parts = urlsplit(offer_url)
    try:
        port = parts.port
    except ValueError:
        return policy
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not _HOST.match(host):
        return policy  # nothing we could name safely: the app-wide policy
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
    return policy.replace("form-action 'self'", f"form-action 'self' {origin}", 1)


@router.post("/offers/{token}", response_class=HTMLResponse)
async def claim_offer_link(token: str, request: Request) -> Response:
    from funnelflow.campaigns.offers import claim_offer

    campaign, lead_id = _campaign_and_lead(token)
    if campaign is None:
        return _message("unknown")
    outcome = await run_in_threadpool(claim_offer, engine_of(request), campaign, lead_id, utcnow())
    log.info("offer link: campaign %s, lead %d: %s", campaign.slug, lead_id, outcome.status)
    return _answer(outcome)
