"""SendGrid engagement events: stored from the webhook once, then turned into facts.

Two halves, both idempotent:

- ``store_events`` (the public app, per webhook post): each event lands in
  ``email_events`` once, keyed by ``sg_event_id``, with the address replaced by
  its ``email_hash`` and removed from the stored payload. One multi-row
  ``INSERT ... ON CONFLICT DO NOTHING`` per chunk, so SendGrid's repeats and
  retries cost nothing and batches of thousands stay fast. An item that is not
  an event is set aside in ``ingest_rejects`` (source ``sendgrid-events``) with
  its reason.
- ``process_events`` (the ``email_engagement`` DAG): drains unprocessed events
  in chunks; each chunk writes its touchpoints, suppressions, consent
  withdrawals and ledger states and marks the events processed in one
  transaction, so a crash mid-way repeats nothing and loses nothing.
  ``mark_unsettled`` closes ledger rows that no event ever settled.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from funnelflow import consent, settings, sql, suppressions
from funnelflow.db.helpers import chunks, dialect_insert, is_postgres
from funnelflow.db.schema import (
    email_events,
    email_sends,
    ingest_rejects,
    leads,
    touchpoints,
    utcnow,
)
from funnelflow.identity import email_hash
from funnelflow.privacy import redact_addresses

log = logging.getLogger(__name__)

REJECT_SOURCE = "sendgrid-events"
TOUCH_SOURCE = "sendgrid"
SUPPRESSION_SOURCE = "sendgrid-webhook"
# Rows per INSERT statement: under PostgreSQL's 65,535 and SQLite's 32,766 bind parameters.
INSERT_CHUNK = 1000
PROCESS_CHUNK = 5000
# Two clicks on different links of one message this close together come from a scanner, not a hand.
SCANNER_BURST_S = 1.0


def _inserted(conn: sa.Connection, stmt, id_column: sa.Column) -> int:
    """Run an INSERT ... ON CONFLICT DO NOTHING and count the rows it added (RETURNING: rowcount is not reliable here)."""
    return len(conn.execute(stmt.returning(id_column)).all())


# --------------------------------------------------------------------------- storing


@dataclass
class StoreResult:
    received: int = 0
    stored: int = 0  # new rows; received - stored - rejected were repeats
    rejected: int = 0


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _event_row(item: Any, received_at: datetime) -> dict[str, Any]:
    """One ``email_events`` row from a webhook item; ``ValueError`` says why it is not an event."""
    if not isinstance(item, dict):
        raise ValueError(f"event is a {type(item).__name__}, not an object")
    name = item.get("event")
    if not isinstance(name, str) or not name or len(name) > 40:
        raise ValueError("event has no 'event' name")
    ts = item.get("timestamp")
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        raise ValueError("event has no numeric 'timestamp'")
    try:
        occurred_at = datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError("event 'timestamp' is out of range") from None
    payload = {k: v for k, v in item.items() if k != "email"}
    payload = redact_addresses(payload)  # bounce texts quote the address; the hash is enough
    sg_event_id = item.get("sg_event_id")
    if not isinstance(sg_event_id, str) or not sg_event_id or len(sg_event_id) > 255:
        # Old-style events carry no id: derive one from the content so a repeat still dedupes.
        canonical = json.dumps(item, sort_keys=True, separators=(",", ":"), default=str)
        sg_event_id = "derived:" + hashlib.sha256(canonical.encode()).hexdigest()
    email = item.get("email")
    url = item.get("url")
    reason = item.get("reason") or item.get("response")
    return {
        "sg_event_id": sg_event_id,
        "event": name,
        "send_id": _int_or_none(item.get("send_id")),
        "sg_message_id": str(item["sg_message_id"])[:255] if item.get("sg_message_id") else None,
        "email_hash": email_hash(email) if isinstance(email, str) else None,
        "occurred_at": occurred_at,
        "received_at": received_at,
        "url": redact_addresses(url) if isinstance(url, str) else None,
        "reason": redact_addresses(str(reason)) if reason else None,
        "machine_open": bool(item.get("sg_machine_open")) if name == "open" else False,
        "payload": payload,
    }


def _store_postgres(conn: sa.Connection, rows: list[dict[str, Any]]) -> int:
    doc = json.dumps(
        rows, separators=(",", ":"), default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)
    )
    return len(conn.execute(sql.load("email/store_events", "postgresql"), {"rows": doc}).all())


def _strip_nul(value: Any) -> Any:
    """``value`` without NUL characters, which PostgreSQL text and jsonb cannot hold."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_nul(v) for v in value]
    return value


def store_events(
    engine: sa.Engine, events: Any, received_at: datetime | None = None, may_contain_nul: bool = True
) -> StoreResult:
    """Store a verified webhook batch (the parsed JSON array): each event once, malformed items set aside.

    ``may_contain_nul=False`` skips the NUL scrub when the caller saw no ``\\u0000`` in the raw body.
    """
    received_at = received_at or utcnow()
    if not isinstance(events, list):
        events = [events]
    if may_contain_nul:
        events = _strip_nul(events)  # one NUL would otherwise fail the whole batch on PostgreSQL, forever
    result = StoreResult(received=len(events))
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    seen: set[str] = set()
    for position, item in enumerate(events):
        try:
            row = _event_row(item, received_at)
        except ValueError as exc:
            raw = redact_addresses(
                {k: v for k, v in item.items() if k != "email"} if isinstance(item, dict) else item
            )
            rejects.append(
                {
                    "source": REJECT_SOURCE,
                    "line_number": position + 1,
                    "reason": str(exc),
                    "raw": {"item": raw},
                    "received_at": received_at,
                }
            )
            continue
        if row["sg_event_id"] in seen:  # a repeat inside one batch: one row, as across batches
            continue
        seen.add(row["sg_event_id"])
        rows.append(row)
    with engine.begin() as conn:
        if rows and is_postgres(conn):
            result.stored = _store_postgres(conn, rows)
        elif rows:
            # One cached statement; SQLAlchemy sends it as multi-row INSERTs ("insertmanyvalues").
            stmt = (
                dialect_insert(conn, email_events)
                .on_conflict_do_nothing(index_elements=["sg_event_id"])
                .returning(email_events.c.id)
            )
            result.stored = len(conn.execute(stmt, rows).all())
        if rejects:
            conn.execute(sa.insert(ingest_rejects), rejects)
    result.rejected = len(rejects)
    if rejects:
        log.warning(
            "set aside %d webhook items that are not events (ingest_rejects, source %s)",
            len(rejects),
            REJECT_SOURCE,
        )
    return result


# --------------------------------------------------------------------------- processing


@dataclass
class ProcessResult:
    events: int = 0
    touchpoints: int = 0
    unscored: int = 0
    suppressions: int = 0
    withdrawals: int = 0
    settled: int = 0
    scrubbed: int = 0  # events of erased people, anonymized on arrival
    by_event: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "touchpoints": self.touchpoints,
            "unscored": self.unscored,
            "suppressions": self.suppressions,
            "withdrawals": self.withdrawals,
            "settled": self.settled,
            "scrubbed": self.scrubbed,
            "by_event": dict(sorted(self.by_event.items())),
        }


def suppression_reason(event: str, payload: dict[str, Any], reason: str | None) -> str | None:
    """The suppression an event calls for, or None (deliveries, opens, temporary blocks, header errors)."""
    if event == "bounce":
        if payload.get("type") == "blocked":
            return "bounce" if is_permanent_status(payload.get("status")) else None
        return "bounce"
    if event == "dropped":
        text = (reason or "").lower()
        if "bounced address" in text:
            return "bounce"
        if "spam reporting address" in text:
            return "spam_report"
        if "unsubscribed address" in text:
            return "unsubscribe"
        if "invalid" in text and "smtpapi" not in text:
            return "invalid"
        return None
    return {
        "spamreport": "spam_report",
        "unsubscribe": "unsubscribe",
        "group_unsubscribe": "group_unsubscribe",
    }.get(event)


def is_permanent_status(status: Any) -> bool:
    """An enhanced SMTP status naming a bad address (5.1.x) is permanent; a block for anything else is not."""
    return isinstance(status, str) and status.strip().startswith("5.1.")


# Ledger transitions an event may make: target status -> statuses it may move from.
_SETTLES = {
    "sent": ("claimed",),
    "delivered": ("claimed", "sent", "unsettled"),
    "bounced": ("claimed", "sent", "delivered", "unsettled"),
    "dropped": ("claimed", "sent", "unsettled"),
}
_EVENT_STATE = {
    "processed": "sent",
    "delivered": "delivered",
    "open": "delivered",  # an open or click proves the message arrived
    "click": "delivered",
    "bounce": "bounced",
    "dropped": "dropped",
}
_STATE_ORDER = ("sent", "delivered", "bounced", "dropped")


def _lookup_sends(conn: sa.Connection, send_ids: set[int]) -> dict[int, sa.Row]:
    found = {}
    for part in chunks(sorted(send_ids), 900):
        for row in conn.execute(
            sa.select(
                email_sends.c.id,
                email_sends.c.lead_id,
                email_sends.c.recipient_hash,
                email_sends.c.sent_at,
                email_sends.c.campaign_id,
            ).where(email_sends.c.id.in_(part))
        ):
            found[row.id] = row
    return found


def leads_by_hash(conn: sa.Connection, hashes: set[str]) -> dict[str, int]:
    """Lead of an address hash, learned from the ledger (events without a send id)."""
    found: dict[str, int] = {}
    for part in chunks(sorted(hashes), 900):
        for h, lead_id in conn.execute(
            sa.select(email_sends.c.recipient_hash, sa.func.max(email_sends.c.lead_id))
            .where(email_sends.c.recipient_hash.in_(part), email_sends.c.lead_id.is_not(None))
            .group_by(email_sends.c.recipient_hash)
        ):
            found[h] = lead_id
    return found


def _erased_leads(conn: sa.Connection, lead_ids: set[int]) -> set[int]:
    out: set[int] = set()
    for part in chunks(sorted(lead_ids), 900):
        out.update(
            conn.execute(
                sa.select(leads.c.id).where(leads.c.id.in_(part), leads.c.erased_at.is_not(None))
            ).scalars()
        )
    return out


def _click_context(
    conn: sa.Connection, send_ids: set[int]
) -> tuple[dict[int, datetime], dict[int, list[tuple[datetime, str]]]]:
    """Per send: when it was delivered (first delivered event) and every click on it (time, url)."""
    delivered: dict[int, datetime] = {}
    clicks: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for part in chunks(sorted(send_ids), 900):
        for send_id, event, at, url in conn.execute(
            sa.select(
                email_events.c.send_id, email_events.c.event, email_events.c.occurred_at, email_events.c.url
            ).where(email_events.c.send_id.in_(part), email_events.c.event.in_(("delivered", "click")))
        ):
            if event == "delivered":
                if send_id not in delivered or at < delivered[send_id]:
                    delivered[send_id] = at
            else:
                clicks[send_id].append((at, url or ""))
    return delivered, clicks


def machine_click_reason(
    at: datetime,
    url: str | None,
    delivered_at: datetime | None,
    other_clicks: Sequence[tuple[datetime, str]],
    human_delay_s: float,
) -> str | None:
    """Why a click looks automated (link scanners), or None for a plausible human click."""
    if delivered_at is not None and (at - delivered_at).total_seconds() < human_delay_s:
        return "click_before_human_delay"
    for other_at, other_url in other_clicks:
        if other_url != (url or "") and abs((other_at - at).total_seconds()) <= SCANNER_BURST_S:
            return "click_burst_across_links"
    return None


def process_events(engine: sa.Engine, as_of: datetime, chunk: int = PROCESS_CHUNK) -> ProcessResult:
    """Turn every unprocessed event into touchpoints, suppressions, withdrawals and ledger states."""
    result = ProcessResult()
    human_delay_s = float(settings.env_int("FUNNELFLOW_EMAIL_HUMAN_CLICK_DELAY_S", 10))
    while True:
        with engine.begin() as conn:
            batch = conn.execute(
                sa.select(email_events)
                .where(email_events.c.processed_at.is_(None))
                .order_by(email_events.c.id)
                .limit(chunk)
            ).all()
            if not batch:
                break
            _process_chunk(conn, batch, as_of, human_delay_s, result)
        if len(batch) < chunk:
            break
    return result


def _process_chunk(
    conn: sa.Connection, batch: Sequence[sa.Row], as_of: datetime, human_delay_s: float, result: ProcessResult
) -> None:
    send_ids = {e.send_id for e in batch if e.send_id is not None}
    sends = _lookup_sends(conn, send_ids)
    hashes = {e.email_hash for e in batch if e.email_hash}
    erased_hashes = suppressions.having_reason(conn, hashes, "erased")
    unattributed = {e.email_hash for e in batch if e.email_hash and e.send_id not in sends}
    by_hash = leads_by_hash(conn, unattributed) if unattributed else {}
    lead_of: dict[int, int | None] = {}
    for e in batch:
        send = sends.get(e.send_id) if e.send_id is not None else None
        lead_of[e.id] = send.lead_id if send is not None and send.lead_id else by_hash.get(e.email_hash)
    erased_leads = _erased_leads(conn, {v for v in lead_of.values() if v})
    click_sends = {e.send_id for e in batch if e.event == "click" and e.send_id in sends}
    delivered_at, clicks = _click_context(conn, click_sends) if click_sends else ({}, {})

    touch_rows: list[dict[str, Any]] = []
    suppression_rows: list[dict[str, Any]] = []
    withdraw: dict[int, datetime] = {}
    regroup: list[tuple[int, str | None]] = []  # group_resubscribe: drop the group suppression
    transitions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    scrub_ids: list[int] = []
    for e in batch:
        result.events += 1
        result.by_event[e.event] = result.by_event.get(e.event, 0) + 1
        payload = e.payload if isinstance(e.payload, dict) else {}
        erased = bool(e.email_hash and e.email_hash in erased_hashes)
        if erased:
            scrub_ids.append(e.id)
        state = _EVENT_STATE.get(e.event)
        if state and e.send_id in sends:
            message_id = (e.sg_message_id or "").split(".", 1)[0] or None
            transitions[state].append({"sid": e.send_id, "at": e.occurred_at, "mid": message_id})
        if erased:
            continue  # a forgotten person gets no new facts; the erased suppression already stops all mail
        lead_id = lead_of[e.id]
        if e.event in ("open", "click") and lead_id and lead_id not in erased_leads:
            machine = None
            if e.event == "open" and e.machine_open:
                machine = "machine_open"
            elif e.event == "click":
                send = sends.get(e.send_id)
                first = delivered_at.get(e.send_id) or (send.sent_at if send is not None else None)
                machine = machine_click_reason(
                    e.occurred_at, e.url, first, clicks.get(e.send_id, ()), human_delay_s
                )
            detail: dict[str, Any] = {"send_id": e.send_id, "sg_event_id": e.sg_event_id}
            if e.event == "click":
                detail["url"] = e.url
            if machine:
                detail["machine"] = machine
                result.unscored += 1
            # The campaign slug of the send (email_sends.campaign_id); the custom arg carries the same value.
            send = sends.get(e.send_id)
            campaign = send.campaign_id if send is not None else payload.get("campaign_id")
            touch_rows.append(
                {
                    "lead_id": lead_id,
                    "occurred_at": e.occurred_at,
                    "channel": "email",
                    "touch_type": "email_open" if e.event == "open" else "email_click",
                    "source": TOUCH_SOURCE,
                    "campaign": str(campaign)[:255] if campaign else None,
                    "detail": detail,
                    "source_ref": f"sendgrid:{e.sg_event_id}"[:255],
                    "scored": machine is None,
                }
            )
        reason = suppression_reason(e.event, payload, e.reason)
        if reason and e.email_hash:
            detail_text = e.reason or ""
            if e.event == "group_unsubscribe" and payload.get("asm_group_id") is not None:
                detail_text = f"asm_group_id={payload.get('asm_group_id')}"
            suppression_rows.append(
                {
                    "email_hash": e.email_hash,
                    "reason": reason,
                    "scope": "all",
                    "source": SUPPRESSION_SOURCE,
                    "detail": f"{e.event}: {detail_text}"[:500],
                    "created_at": e.occurred_at,
                }
            )
            if reason in ("unsubscribe", "spam_report") and lead_id and lead_id not in erased_leads:
                withdraw.setdefault(lead_id, e.occurred_at)
        if e.event == "group_resubscribe" and e.email_hash:
            regroup.append((e.id, e.email_hash))

    if touch_rows:
        for chunk in chunks(touch_rows, INSERT_CHUNK):
            stmt = (
                dialect_insert(conn, touchpoints)
                .values(list(chunk))
                .on_conflict_do_nothing(index_elements=["source_ref"])
            )
            result.touchpoints += _inserted(conn, stmt, touchpoints.c.id)
    if suppression_rows:
        result.suppressions += suppressions.add(conn, suppression_rows)
    for _, h in regroup:
        suppressions.remove(conn, h, "group_unsubscribe", SUPPRESSION_SOURCE)
    for lead_id, at in withdraw.items():
        result.withdrawals += consent.record_withdrawals(conn, [lead_id], at, source="sendgrid:unsubscribe")
    result.settled += _apply_transitions(conn, transitions, as_of)
    if scrub_ids:
        # Events of a forgotten person keep their type, time and send (counts stay right), nothing else.
        for part in chunks(scrub_ids, 900):
            conn.execute(
                sa.update(email_events)
                .where(email_events.c.id.in_(part))
                .values(email_hash=None, url=None, reason=None, payload={"erased": True})
            )
        result.scrubbed += len(scrub_ids)
    ids = [e.id for e in batch]
    for part in chunks(ids, 900):
        conn.execute(sa.update(email_events).where(email_events.c.id.in_(part)).values(processed_at=as_of))


def _apply_transitions(
    conn: sa.Connection, transitions: dict[str, list[dict[str, Any]]], as_of: datetime
) -> int:
    """Move ledger rows forward only (claimed < sent < delivered < bounced/dropped), in that order."""
    settled = 0
    for state in _STATE_ORDER:
        rows = transitions.get(state)
        if not rows:
            continue
        earliest: dict[int, dict[str, Any]] = {}
        for r in rows:
            if r["sid"] not in earliest or r["at"] < earliest[r["sid"]]["at"]:
                earliest[r["sid"]] = r
        from_states = sa.or_(
            *(email_sends.c.status == sa.literal(s) for s in _SETTLES[state])
        )  # no IN: executemany
        stmt = (
            sa.update(email_sends)
            .where(email_sends.c.id == sa.bindparam("sid"), from_states)
            .values(
                status=state,
                settled_at=sa.func.coalesce(
                    email_sends.c.settled_at, sa.bindparam("settle_at", type_=email_sends.c.settled_at.type)
                ),
                sent_at=sa.func.coalesce(
                    email_sends.c.sent_at, sa.bindparam("at", type_=email_sends.c.sent_at.type)
                ),
                provider_message_id=sa.func.coalesce(email_sends.c.provider_message_id, sa.bindparam("mid")),
            )
        )
        params = [{**r, "settle_at": as_of} for r in earliest.values()]
        res = conn.execute(stmt, params)
        settled += max(res.rowcount, 0)
    return settled


def mark_unsettled(engine: sa.Engine, as_of: datetime, after_hours: int | None = None) -> int:
    """Ledger rows still ``claimed`` long after their claim, with no event ever: ``unsettled``.

    Such a message may or may not have gone out (a crash between SendGrid's 202
    and our commit, and no event reached us). It is never sent again; it counts
    against the frequency cap; the status lets people find and judge it.
    """
    hours = (
        after_hours if after_hours is not None else settings.env_int("FUNNELFLOW_EMAIL_UNSETTLED_AFTER_H", 48)
    )
    cutoff = as_of - timedelta(hours=hours)
    with engine.begin() as conn:
        res = conn.execute(
            sa.update(email_sends)
            .where(email_sends.c.status == "claimed", email_sends.c.claimed_at < cutoff)
            .values(status="unsettled", settled_at=as_of)
        )
    return max(res.rowcount, 0)
