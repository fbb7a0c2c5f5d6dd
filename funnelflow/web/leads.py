"""``POST /leads``: the public lead form. Land the raw submission at once, answer 202.

The form is validated for shape only (types, lengths, an email present); the
DAG ``lead_ingestion`` turns landed rows into leads within 10 minutes. Filling
the hidden ``website`` field marks a bot: it gets the same 202 and nothing is
stored. Bodies are capped, posts are rate-limited per client address, and the
client address is taken from ``X-Forwarded-For`` only when the direct peer is
a configured trusted proxy. CORS admits the configured marketing-site origins.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections import defaultdict, deque
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

from funnelflow import settings
from funnelflow.web.client import client_address, trusted_proxies

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


class LeadForm(BaseModel):
    """The shape of a form post; unknown fields are refused so a broken form is noticed, not half-stored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

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
    """Sliding one-minute window per client address, in this process's memory."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, client: str, now: float | None = None) -> tuple[bool, int]:
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits[client]
            while hits and hits[0] <= now - RATE_WINDOW_SECONDS:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return False, max(1, int(hits[0] + RATE_WINDOW_SECONDS - now) + 1)
            hits.append(now)
            if len(self._hits) > 100_000:  # forget idle clients so memory stays bounded
                for key in [k for k, v in self._hits.items() if not v]:
                    del self._hits[key]
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


def _problem(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _read_capped(request: Request, limit: int) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)


def _parse(body: bytes, content_type: str) -> dict[str, Any] | str:
    if content_type.startswith("application/json"):
        try:
            data = json.loads(body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return "body is not valid JSON"
        return data if isinstance(data, dict) else "body must be a JSON object"
    if content_type.startswith("application/x-www-form-urlencoded"):
        from urllib.parse import parse_qs

        try:
            pairs = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            return "form body is not UTF-8"
        data: dict[str, Any] = {k: v[-1] for k, v in pairs.items()}
        if "consent" in data:  # an HTML checkbox sends "on"/"true" when ticked
            data["consent"] = str(data["consent"]).strip().lower() in {"on", "true", "1", "yes"}
        return {k: (None if v == "" else v) for k, v in data.items()}
    return "send application/json or application/x-www-form-urlencoded"


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
        return _problem(
            429,
            "too many submissions from this address; try again shortly",
            {"Retry-After": str(retry_after)},
        )
    body = await _read_capped(request, state.lead_form_max_bytes)
    if body is None:
        return _problem(413, f"request body larger than {state.lead_form_max_bytes} bytes")
    data = _parse(body, request.headers.get("content-type", "").lower())
    if isinstance(data, str):
        return _problem(415 if data.startswith("send ") else 400, data)
    try:
        form = LeadForm.model_validate(data)
    except ValidationError as exc:
        return _problem(
            422, [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()]
        )
    if form.website:
        return JSONResponse({"status": "accepted", "id": secrets.randbelow(10**9)}, status_code=202)
    payload = form.model_dump(include=set(FORM_FIELDS))
    from funnelflow.db import schema
    from funnelflow.db.schema import utcnow

    engine = engine_of(request)
    with engine.begin() as conn:
        landing_id = conn.execute(
            schema.lead_landing.insert()
            .values(
                source="web_form",
                received_at=utcnow(),
                payload=payload,
                content_hash=content_hash(payload),
                client_ip=client[:45],
            )
            .returning(schema.lead_landing.c.id)
        ).scalar_one()
    return JSONResponse({"status": "accepted", "id": landing_id}, status_code=202)


def configure_app_state_only(app: FastAPI) -> None:
    """Limits for an app that included the router without ``configure_app`` (no CORS then)."""
    app.state.lead_form_limiter = RateLimiter(settings.env_int("FUNNELFLOW_FORM_RATE_LIMIT", 20))
    app.state.lead_form_trusted = trusted_proxies()
    app.state.lead_form_max_bytes = settings.env_int("FUNNELFLOW_FORM_MAX_BYTES", 16_384)
