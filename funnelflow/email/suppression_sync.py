"""Pull SendGrid's own suppression lists and add what the webhook missed.

SendGrid retries a failed webhook post for 24 hours, then drops it: a bounce or
spam report from an outage would be lost to us while SendGrid keeps
suppressing the address. This reads SendGrid's lists through its v3 API (with
the ``sendgrid`` client) for the run's window and inserts the missing
suppressions, keyed by email hash like everything else (the addresses are
hashed as they are read and never stored or logged).

| SendGrid list                       | our reason                                           |
|-------------------------------------|------------------------------------------------------|
| ``/v3/suppression/bounces``         | bounce                                               |
| ``/v3/suppression/blocks``          | bounce, only for a permanent status (5.1.x: bad      |
|                                     | address); other blocks are temporary                 |
| ``/v3/suppression/spam_reports``    | spam_report                                          |
| ``/v3/suppression/invalid_emails``  | invalid                                              |
| ``/v3/suppression/unsubscribes``    | unsubscribe                                          |

Errors: 429 waits until ``X-RateLimit-Reset`` (at most a minute) and asks
again; 401/403 fail at once with a message naming the connection; anything
else fails the task, whose retry starts over (inserts are idempotent).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from funnelflow import consent, suppressions
from funnelflow.email.events import is_permanent_status, leads_by_hash
from funnelflow.identity import email_hash
from funnelflow.privacy import redact_addresses

log = logging.getLogger(__name__)

PAGE_SIZE = 500  # SendGrid's maximum for these lists
MAX_RATE_LIMIT_WAIT_S = 60
MAX_RATE_LIMIT_RETRIES = 5
REQUEST_TIMEOUT_S = 60
# Overlap with the previous run's window: entries SendGrid dates just before our window still count.
OVERLAP = timedelta(days=1)

LISTS: dict[str, str] = {
    "bounces": "bounce",
    "blocks": "bounce",
    "spam_reports": "spam_report",
    "invalid_emails": "invalid",
    "unsubscribes": "unsubscribe",
}


class SendGridAuthError(RuntimeError):
    """SendGrid refused the API key: fix the `sendgrid_default` connection."""


@dataclass
class SyncResult:
    read: dict[str, int] = field(default_factory=dict)
    added: dict[str, int] = field(default_factory=dict)
    temporary_blocks: int = 0
    unusable: int = 0  # entries whose address has no email key
    withdrawals: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "added": self.added,
            "temporary_blocks": self.temporary_blocks,
            "unusable": self.unusable,
            "withdrawals": self.withdrawals,
        }


def _client(api_key: str, base_url: str | None):
    from sendgrid import SendGridAPIClient

    # python_http_client logs response bodies (addresses) at DEBUG: keep it quiet whatever the root level.
    logging.getLogger("python_http_client").setLevel(logging.WARNING)
    return SendGridAPIClient(api_key, host=base_url) if base_url else SendGridAPIClient(api_key)


def fetch_list(
    client,
    name: str,
    start_time: int,
    end_time: int,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], float] = time.time,
) -> list[dict[str, Any]]:
    """Every entry of one suppression list created in [start_time, end_time], page by page."""
    from python_http_client.exceptions import HTTPError

    endpoint = getattr(client.client.suppression, name)
    entries: list[dict[str, Any]] = []
    offset = 0
    waits = 0
    while True:
        params = {"start_time": start_time, "end_time": end_time, "limit": PAGE_SIZE, "offset": offset}
        try:
            response = endpoint.get(
                query_params=params, request_headers={"Accept": "application/json"}, timeout=REQUEST_TIMEOUT_S
            )
        except HTTPError as err:
            status = getattr(err, "status_code", None)
            if status in (401, 403):
                raise SendGridAuthError(
                    f"SendGrid answered {status} to /v3/suppression/{name}: the API key in the "
                    "`sendgrid_default` connection is wrong or lacks the suppressions read scope"
                ) from None
            if status == 429 and waits < MAX_RATE_LIMIT_RETRIES:
                waits += 1
                headers = getattr(err, "headers", None) or {}
                try:
                    reset = float(headers.get("X-RateLimit-Reset"))
                except (TypeError, ValueError):
                    reset = now() + 1
                wait = min(max(reset - now(), 0.0), MAX_RATE_LIMIT_WAIT_S)
                log.info("SendGrid rate limit on %s: waiting %.1fs", name, wait)
                sleep(wait)
                continue
            raise RuntimeError(
                f"SendGrid answered {status} to /v3/suppression/{name} (offset {offset})"
            ) from None
        page = response.to_dict
        if not isinstance(page, list):
            raise RuntimeError(f"SendGrid's /v3/suppression/{name} answered something other than a list")
        entries.extend(page)
        if len(page) < PAGE_SIZE:
            return entries
        offset += PAGE_SIZE


def sync_suppressions(
    engine: sa.Engine,
    api_key: str,
    base_url: str | None,
    window_start: datetime,
    window_end: datetime,
    sleep: Callable[[float], None] = time.sleep,
) -> SyncResult:
    """Add SendGrid's suppressions created in the window (widened by a day) that we do not have yet."""
    client = _client(api_key, base_url)
    start_time = int((window_start - OVERLAP).timestamp())
    end_time = int(window_end.timestamp())
    result = SyncResult()
    for name, reason in LISTS.items():
        entries = fetch_list(client, name, start_time, end_time, sleep=sleep)
        result.read[name] = len(entries)
        rows = []
        for entry in entries:
            h = email_hash(entry.get("email")) if isinstance(entry, dict) else None
            if not h:
                result.unusable += 1
                continue
            if name == "blocks" and not is_permanent_status(entry.get("status")):
                result.temporary_blocks += 1
                continue
            created = entry.get("created")
            at = datetime.fromtimestamp(created, UTC) if isinstance(created, int | float) else window_end
            text = " ".join(str(entry[k]) for k in ("status", "reason") if entry.get(k))
            rows.append(
                {
                    "email_hash": h,
                    "reason": reason,
                    "scope": "all",
                    "source": f"sendgrid-sync:{name}",
                    "detail": redact_addresses(text)[:500] or None,
                    "created_at": at,
                }
            )
        with engine.begin() as conn:
            added = suppressions.add_new(conn, rows)
            result.added[name] = len(added)
            if reason in ("unsubscribe", "spam_report") and added:
                # Only for what the webhook missed: an old unsubscribe must not overrule a later
                # re-subscription.
                leads_of = leads_by_hash(conn, {h for h, _ in added})
                if leads_of:
                    result.withdrawals += consent.record_withdrawals(
                        conn, leads_of.values(), window_end, source=f"sendgrid-sync:{name}"
                    )
    log.info("suppression sync: %s", result.as_dict())
    return result
