"""``POST /funnelflow/sendgrid/events``: SendGrid's signed Event Webhook.

The signature (ECDSA P-256 over the timestamp header followed by the raw body)
is checked before the body is parsed; an unsigned or forged post gets 401/403
and stores nothing. A post without signature headers is refused before its body
is read, and no body is read past MAX_BODY_BYTES (413), chunked or not. A
timestamp older than FUNNELFLOW_SENDGRID_WEBHOOK_MAX_AGE_S (or as far in the
future) is refused as a replay; the default, 24 hours, covers SendGrid's retry
window in case a retry keeps its first signature, and a replay inside it stores
nothing new (events are deduplicated). A verified batch is stored once per
``sg_event_id`` and answered 200; an item that is not a storable event
(malformed, out of range, not valid Unicode, nested too deep) is set aside in
``ingest_rejects`` with its reason and never fails the others. The engagement
DAG does the rest.
Without a configured key every post is refused with 503, so SendGrid keeps
retrying (for 24 hours) until someone sets it: nothing is accepted unverified.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from funnelflow import settings
from funnelflow.web.app import engine_of
from funnelflow.web.inputs import InputRefused, parse_json, read_capped

log = logging.getLogger(__name__)

router = APIRouter()

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_BODY_BYTES = 16 * 1024 * 1024  # SendGrid posts about 768 KB; this bounds what we even read


class WebhookRefused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@functools.lru_cache(maxsize=4)
def _verifier(public_key: str):
    from sendgrid.helpers.eventwebhook import EventWebhook

    try:
        return EventWebhook(public_key.strip())
    except (ValueError, TypeError) as exc:
        raise WebhookRefused(503, "FUNNELFLOW_SENDGRID_WEBHOOK_PUBLIC_KEY is not a valid public key") from exc


def _refuse_before_reading(signature: str | None, timestamp: str | None, now: float | None) -> None:
    """What can be refused from the headers alone: no key configured, no signature, a stale timestamp."""
    if not settings.env("FUNNELFLOW_SENDGRID_WEBHOOK_PUBLIC_KEY"):
        raise WebhookRefused(
            503, "webhook verification key not configured (FUNNELFLOW_SENDGRID_WEBHOOK_PUBLIC_KEY)"
        )
    if not signature or not timestamp:
        raise WebhookRefused(401, "missing signature headers")
    max_age = settings.env_int("FUNNELFLOW_SENDGRID_WEBHOOK_MAX_AGE_S", 86400)
    if max_age > 0:
        try:
            signed_at = int(timestamp)
        except ValueError:
            raise WebhookRefused(403, "timestamp is not a number") from None
        age = (time.time() if now is None else now) - signed_at
        if abs(age) > max_age:
            raise WebhookRefused(403, "timestamp outside the accepted window (replayed or clock skew)")


def verify(body: bytes, signature: str | None, timestamp: str | None, now: float | None = None) -> None:
    """Raise ``WebhookRefused`` unless the body is signed by SendGrid's key and fresh enough."""
    _refuse_before_reading(signature, timestamp, now)
    verifier = _verifier(settings.env("FUNNELFLOW_SENDGRID_WEBHOOK_PUBLIC_KEY"))
    try:
        text = body.decode("utf-8")
        base64.b64decode(signature, validate=True)
        valid = verifier.verify_signature(text, signature, timestamp)
    except (UnicodeDecodeError, binascii.Error, ValueError):
        valid = False
    if not valid:
        raise WebhookRefused(403, "signature does not match")


def _refused(refused: WebhookRefused) -> JSONResponse:
    log.warning("sendgrid webhook refused (%d): %s", refused.status, refused.reason)
    return JSONResponse({"error": refused.reason}, status_code=refused.status)


@router.post("/sendgrid/events")
async def sendgrid_events(request: Request) -> JSONResponse:
    signature = request.headers.get(SIGNATURE_HEADER)
    timestamp = request.headers.get(TIMESTAMP_HEADER)
    try:
        _refuse_before_reading(signature, timestamp, None)  # an unsigned post is refused unread
        body = await read_capped(request, MAX_BODY_BYTES)
        verify(body, signature, timestamp)
        events = parse_json(body)
    except WebhookRefused as refused:
        return _refused(refused)
    except InputRefused as refused:
        log.warning("sendgrid webhook: body refused (%d): %s", refused.status, refused.reason)
        return JSONResponse({"error": refused.reason}, status_code=refused.status)
    if not isinstance(events, list):
        return JSONResponse({"error": "body must be a JSON array of events"}, status_code=400)

    from funnelflow.email.events import store_events

    result = await run_in_threadpool(store_events, engine_of(request), events, None, b"\\u0000" in body)
    return JSONResponse({"received": result.received, "stored": result.stored, "rejected": result.rejected})
