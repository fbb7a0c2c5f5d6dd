"""Webinar registration, one-click registration from an invitation, and cancellation.

- ``GET/POST /webinars/{slug}/register``: the public page and its form (email, name,
  company, consent, the lead form's honeypot). A new person becomes a lead through the
  lead form's landing path (source ``webinar``, consent with the form's wording version,
  pending until confirmed), at once, so the page can say "registered" or "waitlisted".
- ``GET/POST /webinars/r/{token}``: the invitation's link, signed, naming the webinar
  and the lead. The GET shows the event and a Register button; only the POST registers
  (mail scanners open links).
- ``GET/POST /webinars/cancel/{token}``: the confirmation's link; the POST frees the
  seat, which goes to the first person on the waitlist.

Every page works without JavaScript. Pages never repeat what was typed (no address).
"""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import Field, StrictBool
from starlette.concurrency import run_in_threadpool

from funnelflow import clock, settings
from funnelflow.email.tokens import InvalidToken
from funnelflow.web import pages
from funnelflow.web.app import engine_of
from funnelflow.web.client import client_address
from funnelflow.web.inputs import PublicForm, read_form

log = logging.getLogger(__name__)
router = APIRouter()

_MESSAGES = {
    "invalid": (
        404,
        "Link not valid",
        "This link is not valid. Please use the link from your most recent email.",
    ),
    "unknown": (404, "No such webinar", "We could not find this webinar. Please check the link."),
    "closed": (
        410,
        "Registration closed",
        "This webinar is over or was cancelled, so it takes no registrations.",
    ),
    "registered": (
        200,
        "You're registered",
        "Your seat is saved. The join link and a calendar file are on their way to your inbox.",
    ),
    "waitlisted": (
        200,
        "You're on the waiting list",
        "Every seat is taken right now. You are on the waiting list in the order you registered, "
        "and we email you the moment a seat is yours.",
    ),
    "rejected": (
        422,
        "We could not register you",
        "We could not use the email address you gave. Please check it and try again.",
    ),
    "cancelled": (
        200,
        "Your seat is free",
        "Thank you for letting us know: your seat goes to the next person.",
    ),
    "not_cancelled": (
        200,
        "Nothing to cancel",
        "This registration was already cancelled or the webinar is over.",
    ),
    "busy": (429, "Too many attempts", "Too many attempts from your address; please try again in a minute."),
}


def _message(key: str) -> HTMLResponse:
    status, title, text = _MESSAGES[key]
    return pages.message(status, title, text)


class RegistrationForm(PublicForm):
    email: str = Field(min_length=3, max_length=320)
    first_name: str | None = Field(default=None, max_length=120)
    last_name: str | None = Field(default=None, max_length=120)
    company: str | None = Field(default=None, max_length=255)
    consent: StrictBool = False
    website: str | None = Field(default=None, max_length=2000)  # the lead form's honeypot


def _webinar(slug: str):
    from funnelflow.webinars.config import WebinarConfigError, webinar_named

    try:
        return webinar_named(slug)
    except WebinarConfigError:
        return None


def _event_context(webinar) -> dict[str, object]:
    local = webinar.starts_at.astimezone(webinar.zone)
    return {
        "event_title": webinar.spec.title,
        "description": webinar.spec.description.strip(),
        "host": webinar.spec.host,
        "when_local": f"{local:%A %d %B %Y, %H:%M} ({webinar.spec.timezone})",
        "duration_minutes": webinar.spec.duration_minutes,
    }


def _open(webinar, now: datetime) -> bool:
    return webinar.status == "scheduled" and now < webinar.ends_at


@router.get("/webinars/{slug}/register", response_class=HTMLResponse)
async def register_page(slug: str) -> HTMLResponse:
    webinar = _webinar(slug)
    if webinar is None:
        return _message("unknown")
    if not _open(webinar, clock.now()):
        return _message("closed")
    return pages.page("webinar_register.html", title="Register", problem=None, **_event_context(webinar))


def _limited(request: Request) -> bool:
    from funnelflow.web.leads import configure_app_state_only

    state = request.app.state
    if not hasattr(state, "lead_form_limiter"):
        configure_app_state_only(request.app)
    allowed, _ = state.lead_form_limiter.allow(client_address(request, state.lead_form_trusted))
    return not allowed


def register_form_post(engine, webinar, form: RegistrationForm, client_ip: str, now: datetime) -> str:
    """Land the person as a lead (the lead form's path), then register them; the page to show."""
    from funnelflow.identity import email_key
    from funnelflow.ingest.config import WEBINAR_SOURCE, load_header_mapping, load_sources
    from funnelflow.ingest.landing import land_form_post
    from funnelflow.ingest.stage import Arrival
    from funnelflow.web.leads import content_hash
    from funnelflow.webinars import registrations

    sources = load_sources()
    payload = form.model_dump(include={"email", "first_name", "last_name", "company", "consent"})
    payload["page_url"] = f"webinar:{webinar.slug}"
    arrival = Arrival(
        source=WEBINAR_SOURCE,
        # Each post is a form fill on the webinar's page; the registration itself is one
        # webinar_registered touch, written once by registrations.register.
        channel="webinar",
        touch_type="form_fill",
        campaign=webinar.slug,
        wording_version=sources.web_form.consent_wording_version,
        consent_always=True,
    )
    outcome = land_form_post(
        engine, arrival, payload, content_hash(payload), client_ip, sources, load_header_mapping(), now
    )
    if outcome == "rejected":
        return "rejected"
    with engine.connect() as conn:
        lead_id = registrations.lead_ids_by_email_key(conn, [email_key(form.email) or ""]).get(
            email_key(form.email) or ""
        )
    if lead_id is None:
        return "rejected"
    try:
        return registrations.register(engine, webinar.slug, lead_id, "form", now).status
    except registrations.WebinarClosed:
        return "closed"


@router.post("/webinars/{slug}/register", response_class=HTMLResponse)
async def register_post(slug: str, request: Request) -> HTMLResponse:
    webinar = _webinar(slug)
    if webinar is None:
        return _message("unknown")
    now = clock.now()
    if not _open(webinar, now):
        return _message("closed")
    if _limited(request):
        return _message("busy")
    form = await read_form(request, RegistrationForm, settings.env_int("FUNNELFLOW_FORM_MAX_BYTES", 16_384))
    if isinstance(form, JSONResponse):
        # A person without JavaScript gets the form again, told which field to fix (never its value).
        fields = sorted({p.get("field", "") for p in _problems(form)} - {""})
        problem = (
            "Please check: " + ", ".join(f.replace("_", " ") for f in fields)
            if fields
            else "Please try again."
        )
        return pages.page(
            "webinar_register.html",
            status=form.status_code,
            title="Register",
            problem=problem,
            **_event_context(webinar),
        )
    if form.website:
        return _message("registered")  # the honeypot: the same answer as a person's, nothing stored
    client = client_address(request, request.app.state.lead_form_trusted)
    outcome = await run_in_threadpool(register_form_post, engine_of(request), webinar, form, client, now)
    return _message(outcome if outcome in _MESSAGES else "registered")


def _problems(response: JSONResponse) -> list[dict]:
    import json

    detail = json.loads(response.body).get("detail")
    return detail if isinstance(detail, list) else []


def _invitation(token: str):
    from funnelflow.webinars.tokens import read_invitation_token

    try:
        return read_invitation_token(token)
    except InvalidToken:
        return None


@router.get("/webinars/r/{token}", response_class=HTMLResponse)
async def invitation_page(token: str) -> HTMLResponse:
    named = _invitation(token)
    webinar = _webinar(named[0]) if named else None
    if webinar is None:
        return _message("invalid")
    if not _open(webinar, clock.now()):
        return _message("closed")
    return pages.page("webinar_invite.html", title="Register", **_event_context(webinar))


@router.post("/webinars/r/{token}", response_class=HTMLResponse)
async def invitation_post(token: str, request: Request) -> HTMLResponse:
    named = _invitation(token)
    webinar = _webinar(named[0]) if named else None
    if webinar is None:
        return _message("invalid")
    now = clock.now()
    if not _open(webinar, now):
        return _message("closed")
    from funnelflow.webinars.registrations import register_invited

    outcome = await run_in_threadpool(
        register_invited, engine_of(request), webinar.slug, named[1], "invitation", now
    )
    return _message(outcome)


def _cancellation(token: str) -> int | None:
    from funnelflow.webinars.tokens import read_cancel_token

    try:
        return read_cancel_token(token)
    except InvalidToken:
        return None


@router.get("/webinars/cancel/{token}", response_class=HTMLResponse)
async def cancel_page(token: str, request: Request) -> HTMLResponse:
    from funnelflow.webinars import registrations

    registration_id = _cancellation(token)
    if registration_id is None:
        return _message("invalid")

    def lookup():
        with engine_of(request).connect() as conn:
            return registrations.registration_of(conn, registration_id)

    reg = await run_in_threadpool(lookup)
    if reg is None:
        return _message("invalid")
    webinar = _webinar(reg["slug"])
    if webinar is None or reg["status"] not in ("registered", "waitlisted"):
        return _message("not_cancelled")
    return pages.page("webinar_cancel.html", title="Free your seat", **_event_context(webinar))


@router.post("/webinars/cancel/{token}", response_class=HTMLResponse)
async def cancel_post(token: str, request: Request) -> HTMLResponse:
    from funnelflow.webinars import registrations

    registration_id = _cancellation(token)
    if registration_id is None:
        return _message("invalid")
    cancelled, promoted = await run_in_threadpool(
        registrations.cancel, engine_of(request), registration_id, clock.now()
    )
    if cancelled:
        log.info(
            "webinar registration %d cancelled; %d promoted from the waitlist", registration_id, len(promoted)
        )
    return _message("cancelled" if cancelled else "not_cancelled")
