"""``POST /leads``: the public lead form. Land the raw submission at once, answer 202.

The form is validated for shape only (types, lengths, an email present); the
DAG ``lead_ingestion`` turns landed rows into leads within 10 minutes. Filling
the hidden ``website`` field marks a bot: it gets the very same answer as a
person (202, no id) and nothing is stored. Reading and checking the body is
``funnelflow.web.inputs.read_form``, shared by every public form. Bodies are
capped, posts are rate-limited per client address, and the client address is
taken from ``X-Forwarded-For`` only when the direct peer is a configured
trusted proxy. CORS admits the configured marketing-site origins.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict, deque
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import Field, StrictBool, field_validator

from funnelflow import settings
from funnelflow.web.client import client_address, trusted_proxies
from funnelflow.web.inputs import PublicForm, problem_response, read_form

router = APIRouter()

FORM_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "company",
    "job_title",
    "phone",
    "country",
    "consent",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "page_url",
    "message",
)
HONEYPOT = "website"
RATE_WINDOW_SECONDS = 60.0
# Addresses the rate limiter remembers at most (about 1 KB each); past that the least recently active go.
RATE_MAX_CLIENTS = 20_000


def _accepted() -> JSONResponse:
    """The one answer to every accepted post, landed or honeypot alike: no id, so a bot learns nothing."""
    return JSONResponse({"status": "accepted"}, status_code=202)


class LeadForm(PublicForm):
    """The shape of a form post; unknown fields are refused so a broken form is noticed, not half-stored."""

    email: str = Field(min_length=3, max_length=320)
    first_name: str | None = Field(default=None, max_length=120)
    last_name: str | None = Field(default=None, max_length=120)
    company: str | None = Field(default=None, max_length=255)
    job_title: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, max_length=60)
    consent: StrictBool = False
    utm_source: str | None = Field(default=None, max_length=255)
    utm_medium: str | None = Field(default=None, max_length=255)
    utm_campaign: str | None = Field(default=None, max_length=255)
    utm_term: str | None = Field(default=None, max_length=255)
    utm_content: str | None = Field(default=None, max_length=255)
    page_url: str | None = Field(default=None, max_length=2000)
    # "What would you like to solve?": kept with the touch for the rep (sales handoff), never logged.
    message: str | None = Field(default=None, max_length=2000)
    website: str | None = Field(default=None, max_length=2000)  # honeypot: people never see it

    @field_validator("email")
    @classmethod
    def _looks_like_email(cls, value: str) -> str:
        if value.count("@") != 1 or value.startswith("@") or value.endswith("@") or " " in value:
            raise ValueError("not an email address")
        return value


class RateLimiter:
    """Sliding one-minute window per client address, in this process's memory, bounded in size.

    Clients are kept in the order of their latest post, so the idle ones are at
    the front: each call drops the front entries with no post left in the window
    (O(1) amortised) and, past ``max_clients``, the least recently seen one. A
    client forgotten that way only gets a fresh allowance; memory never grows with
    the number of addresses seen, and a client that keeps posting is never the one
    forgotten.
    """

    def __init__(self, per_minute: int, max_clients: int = RATE_MAX_CLIENTS) -> None:
        self.per_minute = per_minute
        self.max_clients = max_clients
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._hits)

    def allow(self, client: str, now: float | None = None) -> tuple[bool, int]:
        now = time.monotonic() if now is None else now
        horizon = now - RATE_WINDOW_SECONDS
        with self._lock:
            while self._hits:  # forget clients whose every post has left the window
                oldest = next(iter(self._hits.values()))
                if oldest and oldest[-1] > horizon:
                    break
                self._hits.popitem(last=False)
            hits = self._hits.get(client)
            if hits is None:
                hits = self._hits[client] = deque()
                while len(self._hits) > self.max_clients:
                    self._hits.popitem(last=False)
            else:
                self._hits.move_to_end(client)
            while hits and hits[0] <= horizon:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return False, max(1, int(hits[0] + RATE_WINDOW_SECONDS - now) + 1) if hits else 60
            hits.append(now)
            return True, 0


def configure_app(app: FastAPI) -> None:
    """Add what a router cannot carry: CORS for the marketing site, and this app's form limits."""
    from fastapi.middleware.cors import CORSMiddleware

    origins = [o.strip() for o in (settings.env("FUNNELFLOW_FORM_ORIGINS") or "").split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["POST"],
            allow_headers=["Content-Type"],
            max_age=600,
        )
    configure_app_state_only(app)


def content_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
    ).hexdigest()


@router.post("/leads", status_code=202)
async def post_lead(request: Request) -> JSONResponse:
    from funnelflow.web.app import engine_of

    state = request.app.state
    if not hasattr(state, "lead_form_limiter"):
        configure_app_state_only(request.app)
    client = client_address(request, state.lead_form_trusted)
    allowed, retry_after = state.lead_form_limiter.allow(client)
    if not allowed:
        return problem_response(
            429,
            "too many submissions from this address; try again shortly",
            {"Retry-After": str(retry_after)},
        )
    form = await read_form(request, LeadForm, state.lead_form_max_bytes)
    if not isinstance(form, LeadForm):
        return form
    if form.website:
        return _accepted()
    payload = form.model_dump(include=set(FORM_FIELDS))
    from funnelflow.db import schema
    from funnelflow.db.schema import utcnow

    engine = engine_of(request)
    with engine.begin() as conn:
        conn.execute(
            schema.lead_landing.insert().values(
                source="web_form",
                received_at=utcnow(),
                payload=payload,
                content_hash=content_hash(payload),
                client_ip=client[:45],
            )
        )
    return _accepted()


def configure_app_state_only(app: FastAPI) -> None:
    """Limits for an app that included the router without ``configure_app`` (no CORS then)."""
    app.state.lead_form_limiter = RateLimiter(settings.env_int("FUNNELFLOW_FORM_RATE_LIMIT", 20))
    app.state.lead_form_trusted = trusted_proxies()
    app.state.lead_form_max_bytes = settings.env_int("FUNNELFLOW_FORM_MAX_BYTES", 16_384)
