"""Ad-platform lead forms (LinkedIn/Facebook style): a paged HTTP JSON source.

``GET {base_url}/v1/lead-forms/{form_id}/leads?since=...&cursor=...&limit=N`` with
``Authorization: Bearer <token>`` answers ``{"data": [lead, ...], "paging":
{"next_cursor": str | null}}``; a lead is ``{id, created_time, campaign_name,
field_data: [{name, values}]}``. Each page is landed raw in ``lead_landing``
in the same transaction as the cursor that follows it (``pipeline_state``), so
a failure halfway resumes at the failed page and never skips a lead. When the
sequence ends, the next run asks only for leads created since the newest one
seen. Pages come through ``funnelflow.http_json`` (429, 5xx and transport errors
retried with backoff, ``Retry-After`` honoured; any other answer fails at once).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Engine, select

from funnelflow.db import schema
from funnelflow.db.schema import utcnow
from funnelflow.db.state import get_state, put_state
from funnelflow.http_json import PartnerAPIError, get_json

log = logging.getLogger(__name__)


class AdPlatformError(PartnerAPIError):
    """The ad platform kept failing (or answered something we cannot read);
    nothing after the last stored page is lost."""


@dataclass(frozen=True)
class AdPlatformEndpoint:
    base_url: str
    token: str
    form_id: str
    page_size: int = 100
    timeout: float = 30.0
    attempts: int = 4  # per page, before the run fails (the next run resumes at this page)
    backoff_seconds: float = 1.0


@dataclass
class FetchReport:
    source: str
    pages: int = 0
    fetched: int = 0
    landed: int = 0
    already_landed: int = 0

    def log_line(self) -> str:
        return (
            f"ad source {self.source!r}: pages={self.pages} fetched={self.fetched} landed={self.landed} "
            f"already_landed={self.already_landed}"
        )


def state_key(source: str) -> str:
    return f"ingest.ad_platform.{source}"


def payload_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
    ).hexdigest()


def _get_page(
    client: httpx.Client, endpoint: AdPlatformEndpoint, params: dict[str, Any], sleep: Callable[[float], None]
) -> dict[str, Any]:
    url = f"{endpoint.base_url.rstrip('/')}/v1/lead-forms/{endpoint.form_id}/leads"
    retries = {"attempts": endpoint.attempts, "backoff_seconds": endpoint.backoff_seconds, "sleep": sleep}
    try:
        body = get_json(
            client, url, params, {"Authorization": f"Bearer {endpoint.token}"}, what="ad platform", **retries
        )
    except PartnerAPIError as exc:
        raise AdPlatformError(f"{exc}; the next run resumes here") from None
    try:
        data, paging = body["data"], body.get("paging") or {}
        next_cursor = paging.get("next_cursor")
    except (KeyError, TypeError, AttributeError):
        raise AdPlatformError(
            "ad platform answered 200 with a body that is not the lead page shape"
        ) from None
    if not isinstance(data, list):
        raise AdPlatformError("ad platform page 'data' is not a list")
    return {"data": data, "next_cursor": next_cursor}


def fetch_new_leads(
    engine: Engine,
    endpoint: AdPlatformEndpoint,
    source: str,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_pages: int = 10_000,
) -> FetchReport:
    """Land every lead created since the stored watermark, page by page, cursor saved with each page."""
    report = FetchReport(source)
    own_client = client is None
    client = client or httpx.Client(timeout=endpoint.timeout)
    key = state_key(source)
    try:
        with engine.connect() as conn:
            row = get_state(conn, key)
        state = dict(row or {})
        for _ in range(max_pages):
            params: dict[str, Any] = {"limit": endpoint.page_size}
            if state.get("since"):
                params["since"] = state["since"]
            if state.get("cursor"):
                params["cursor"] = state["cursor"]
            page = _get_page(client, endpoint, params, sleep)
            report.pages += 1
            report.fetched += len(page["data"])
            state = _land_page(engine, source, key, state, page, report)
            if not page["next_cursor"]:
                break
    finally:
        if own_client:
            client.close()
    return report


def _land_page(
    engine: Engine, source: str, key: str, state: dict[str, Any], page: dict[str, Any], report: FetchReport
) -> dict[str, Any]:
    t = schema.lead_landing
    now = utcnow()
    leads = [lead for lead in page["data"] if isinstance(lead, dict)]
    hashes = {payload_hash(lead): lead for lead in leads}
    newest = max([str(lead.get("created_time", "")) for lead in leads] + [state.get("high_water") or ""])
    new_state = {"since": state.get("since"), "cursor": page["next_cursor"], "high_water": newest or None}
    if not page["next_cursor"]:
        # Sequence done: next run asks for leads created since the newest seen
        # (inclusive; repeats dedupe by hash).
        new_state = {"since": newest or state.get("since"), "cursor": None, "high_water": newest or None}
    with engine.begin() as conn:
        known = (
            set(
                conn.execute(
                    select(t.c.content_hash).where(t.c.source == source, t.c.content_hash.in_(list(hashes)))
                ).scalars()
            )
            if hashes
            else set()
        )
        fresh = [
            {"source": source, "received_at": now, "payload": lead, "content_hash": h, "client_ip": None}
            for h, lead in hashes.items()
            if h not in known
        ]
        if fresh:
            conn.execute(t.insert(), fresh)
        put_state(conn, key, new_state, at=now)
    report.landed += len(fresh)
    report.already_landed += len(leads) - len(fresh)
    return new_state
