"""``/funnelflow/unsubscribe/{token}`` and ``/funnelflow/confirm/{token}``: the links in our emails.

GET shows a page with one button and changes nothing (mail scanners and link
previews open every link); POST acts. The unsubscribe POST is also RFC 8058's
one-click target (``List-Unsubscribe-Post: List-Unsubscribe=One-Click``): mail
providers post there directly, so it needs no form field and answers 200.

Tokens are in the path, so: the standalone server runs without an access log,
the pages load nothing from anywhere else (styles inline, no images, no
scripts), and every answer says ``Referrer-Policy: no-referrer`` (app-wide: ``funnelflow.web.middleware``).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from funnelflow.db.schema import utcnow
from funnelflow.email import tokens
from funnelflow.web import pages
from funnelflow.web.app import engine_of
from funnelflow.web.client import client_address

log = logging.getLogger(__name__)

router = APIRouter()

_MESSAGES = {
    "invalid": (
        404,
        "Link not valid",
        "This link is not valid. Please use the link from your most recent email.",
    ),
    "unsubscribed": (200, "You are unsubscribed", "You will not receive our marketing emails any more."),
    "confirmed": (200, "Subscription confirmed", "Thank you: your subscription is confirmed."),
    "already_confirmed": (
        200,
        "Already confirmed",
        "Your subscription was already confirmed. There is nothing more to do.",
    ),
    "superseded": (
        410,
        "Link no longer valid",
        "You unsubscribed after this link was sent, so it no longer confirms anything.",
    ),
    "gone": (410, "Link no longer valid", "This link no longer applies."),
}


def _page(template: str, status: int = 200, **context) -> HTMLResponse:
    return pages.page(template, status, **context)


def _message(key: str) -> HTMLResponse:
    status, title, text = _MESSAGES[key]
    return _page("message.html", status, title=title, message=text)


def _subject(purpose: str, token: str) -> int | None:
    try:
        return tokens.read_token(purpose, token)
    except tokens.InvalidToken:
        return None


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe_page(token: str, request: Request) -> HTMLResponse:
    from funnelflow.email.preferences import preview_unsubscribe

    send_id = _subject("unsubscribe", token)
    if send_id is None:
        return _message("invalid")
    outcome = await run_in_threadpool(preview_unsubscribe, engine_of(request), send_id)
    if outcome.status == "unknown":
        return _message("invalid")
    return _page("unsubscribe.html", title="Unsubscribe")


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe_action(token: str, request: Request) -> HTMLResponse:
    from funnelflow.email.preferences import unsubscribe

    send_id = _subject("unsubscribe", token)
    if send_id is None:
        return _message("invalid")
    outcome = await run_in_threadpool(unsubscribe, engine_of(request), send_id, utcnow())
    if outcome.status == "unknown":
        return _message("invalid")
    log.info("unsubscribe via link: send %d (%s)", send_id, outcome.status)
    return _message("unsubscribed")


@router.get("/confirm/{token}", response_class=HTMLResponse)
async def confirm_page(token: str, request: Request) -> HTMLResponse:
    from funnelflow.email.preferences import preview_confirm

    consent_id = _subject("confirm", token)
    if consent_id is None:
        return _message("invalid")
    outcome = await run_in_threadpool(preview_confirm, engine_of(request), consent_id)
    if outcome.status == "ready":
        return _page("confirm.html", title="Confirm your subscription")
    return _message(
        {"already": "already_confirmed", "unknown": "invalid"}.get(outcome.status, outcome.status)
    )


@router.post("/confirm/{token}", response_class=HTMLResponse)
async def confirm_action(token: str, request: Request) -> HTMLResponse:
    from funnelflow.email.preferences import confirm

    consent_id = _subject("confirm", token)
    if consent_id is None:
        return _message("invalid")
    outcome = await run_in_threadpool(
        confirm, engine_of(request), consent_id, utcnow(), client_address(request)
    )
    log.info("double opt-in via link: consent %d (%s)", consent_id, outcome.status)
    if outcome.status == "done":
        return _message("confirmed")
    return _message(
        {"already": "already_confirmed", "unknown": "invalid"}.get(outcome.status, outcome.status)
    )
