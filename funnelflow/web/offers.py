"""``GET /funnelflow/offers/{token}``: a campaign's limited-time offer link.

The token names the campaign and the lead (signed, no address). Before the
offer's ``expires_at`` and under its ``limit``, the claim is recorded once per
person (a touch ``offer_claimed``) and the browser goes on (303) to the offer;
the same person clicking again goes on again without a second claim. After
expiry, or once ``limit`` people have claimed, a page says so plainly. The
limit is held by the database (see ``funnelflow.campaigns.offers``), so
concurrent clicks never claim more than ``limit``.

As the campaign spec asks, the GET itself claims: the claim is per person and
idempotent, but a mail scanner that follows every link claims for its reader
(documented in docs/campaigns.md).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from funnelflow.db.schema import utcnow
from funnelflow.web.app import engine_of
from funnelflow.web.preferences import _page

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
    code, title, text = _PAGES[status]
    return _page("message.html", code, title=title, message=text)


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


@router.get("/offers/{token}", response_class=HTMLResponse)
async def claim_offer_link(token: str, request: Request) -> Response:
    from funnelflow.campaigns.offers import claim_offer

    campaign, lead_id = _campaign_and_lead(token)
    if campaign is None:
        return _message("unknown")
    outcome = await run_in_threadpool(claim_offer, engine_of(request), campaign, lead_id, utcnow())
    log.info("offer link: campaign %s, lead %d: %s", campaign.slug, lead_id, outcome.status)
    if outcome.redirect_to:
        return RedirectResponse(
            outcome.redirect_to, status_code=303
        )  # security headers: funnelflow.web.middleware
    return _message(outcome.status)
