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
import math
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
from funnelflow.web.inputs import has_lone_surrogate, scalar_problem

log = logging.getLogger(__name__)

REJECT_SOURCE = "sendgrid-events"
TOUCH_SOURCE = "sendgrid"
SUPPRESSION_SOURCE = "sendgrid-webhook"
# Rows per INSERT statement: under PostgreSQL's 65,535 and SQLite's 32,766 bind parameters.
INSERT_CHUNK = 1000
PROCESS_CHUNK = 5000
# Two clicks on different links of one message this close together come from a scanner, not a hand.
SCANNER_BURST_S = 1.0
# SendGrid events are two levels deep at most (an object holding a list of categories).
MAX_EVENT_DEPTH = 8


def _inserted(conn: sa.Connection, stmt, id_column: sa.Column) -> int:
    """Run an INSERT ... ON CONFLICT DO NOTHING and count the rows it added
    (RETURNING: rowcount is not reliable here)."""
    return len(conn.execute(stmt.returning(id_column)).all())


# --------------------------------------------------------------------------- storing


@dataclass
class StoreResult:
    received: int = 0
    stored: int = 0  # new rows; received - stored - rejected were repeats
    rejected: int = 0


# email_sends.id is a BIGINT on PostgreSQL and an INTEGER on SQLite: both 64-bit signed.
BIGINT_MAX = 2**63 - 1


def _send_id(value: Any) -> int | None:
    """The ledger id in ``custom_args.send_id`` (digits, or an integer);
    ``ValueError`` when it is no such id."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise ValueError("event 'send_id' is not an id (digits only)")
    if not 0 <= number <= BIGINT_MAX:
        raise ValueError("event 'send_id' is out of range")
    return number


def _refuse(problem: str | None) -> None:
    if problem:
        raise ValueError(f"event {problem}")


def _clean(value: Any, strip_nul: bool, depth: int = 1, skip: str | None = None) -> Any:
    """``value`` ready to store (NULs stripped, addresses redacted); ``ValueError`` for what no column holds.

    One pass over each event (exact-type checks first: this runs for every value the webhook
    receives); the depth is checked before each step down, so a deeply nested item never recurses
    far. ``skip`` leaves one key of a top-level object out (the address).
    """
    kind = type(value)
    if kind is str:
        if not value.isascii():
            _refuse(scalar_problem(value))
        if strip_nul and "\x00" in value:  # PostgreSQL text and jsonb cannot hold NUL
            value = value.replace("\x00", "")
        return redact_addresses(value) if "@" in value else value  # bounce texts quote the address
    if kind is int or kind is bool or value is None:
        return value
    if kind is dict or kind is list:
        if depth > MAX_EVENT_DEPTH:
            raise ValueError(f"event is nested deeper than {MAX_EVENT_DEPTH} levels")
        if kind is list:
            return [_clean(v, strip_nul, depth + 1) for v in value]
        out = {}
        for key, child in value.items():
            if key == skip:
                continue
            if not key.isascii():
                _refuse(scalar_problem(key))
            out[key.replace("\x00", "") if strip_nul else key] = _clean(child, strip_nul, depth + 1)
        return out
    _refuse(scalar_problem(value))  # NaN/Infinity (literal, or a number too large for a float)
    for plain in (str, dict, list):  # a subclass, from a caller other than the JSON parser
        if isinstance(value, plain):
            return _clean(plain(value), strip_nul, depth, skip)
    return value


def _event_row(item: Any, received_at: datetime, strip_nul: bool = True) -> dict[str, Any]:
    """One ``email_events`` row from a webhook item; ``ValueError`` says why it is not an event."""
    if not isinstance(item, dict):
        raise ValueError(f"event is a {type(item).__name__}, not an object")
    # The payload is the event without the address (the hash is enough), checked and cleaned.
    payload = _clean(item, strip_nul, skip="email")
    email = item.get("email")  # hashed, never stored
    if isinstance(email, str):
        _refuse(scalar_problem(email))
        email = email.replace("\x00", "") if strip_nul else email
    name = payload.get("event")
    if not isinstance(name, str) or not name or len(name) > 40:
        raise ValueError("event has no 'event' name")
    ts = payload.get("timestamp")
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        raise ValueError("event has no numeric 'timestamp'")
    try:
        occurred_at = datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError("event 'timestamp' is out of range") from None
    sg_event_id = payload.get("sg_event_id")
    if not isinstance(sg_event_id, str) or not sg_event_id or len(sg_event_id) > 255:
        # Old-style events carry no id: derive one from the content so a repeat still dedupes.
        whole = _strip_nul(item) if strip_nul else item  # depth already checked: recursion is bounded
        canonical = json.dumps(whole, sort_keys=True, separators=(",", ":"), default=str)
        sg_event_id = "derived:" + hashlib.sha256(canonical.encode()).hexdigest()
    url = payload.get("url")
    reason = payload.get("reason") or payload.get("response")
    return {
        "sg_event_id": sg_event_id,
        "event": name,
        "send_id": _send_id(payload.get("send_id")),
        "sg_message_id": str(payload["sg_message_id"])[:255] if payload.get("sg_message_id") else None,
        "email_hash": email_hash(email) if isinstance(email, str) else None,
        "occurred_at": occurred_at,
        "received_at": received_at,
        "url": url if isinstance(url, str) else None,
        "reason": redact_addresses(str(reason)) if reason else None,
        "machine_open": bool(payload.get("sg_machine_open")) if name == "open" else False,
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


def _storable(value: Any, depth: int = 1) -> Any:
    """``value`` as any JSON column can hold it, for a set-aside item: addresses redacted, no NUL,
    lone surrogates and NaN/Infinity turned into text, nothing deeper than MAX_EVENT_DEPTH."""
    if isinstance(value, str):
        text = value.replace("\x00", "")
        if has_lone_surrogate(text):
            text = text.encode("utf-8", "replace").decode("utf-8")
        return redact_addresses(str(text))
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict | list) and depth > MAX_EVENT_DEPTH:
        return f"[nested deeper than {MAX_EVENT_DEPTH} levels: not kept]"
    if isinstance(value, dict):
        return {_storable(k): _storable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v, depth + 1) for v in value]
    return value


def _reject(position: int, reason: str, item: Any, received_at: datetime) -> dict[str, Any]:
    """An ``ingest_rejects`` row for the webhook item at ``position`` (0-based), without its address."""
    raw = {k: v for k, v in item.items() if k != "email"} if isinstance(item, dict) else item
    return {
        "source": REJECT_SOURCE,
        "line_number": position + 1,
        "reason": reason[:500],
        "raw": {"item": _storable(raw)},
        "received_at": received_at,
    }


def _insert_events(conn: sa.Connection, rows: list[dict[str, Any]]) -> int:
    """Insert event rows, skipping ``sg_event_id``s already stored; how many were new."""
    if is_postgres(conn):
        return _store_postgres(conn, rows)
    # One cached statement; SQLAlchemy sends it as multi-row INSERTs ("insertmanyvalues").
    stmt = (
        dialect_insert(conn, email_events)
        .on_conflict_do_nothing(index_elements=["sg_event_id"])
        .returning(email_events.c.id)
    )
    return len(conn.execute(stmt, rows).all())


# What the database may refuse about one row's values; a lost connection (OperationalError) is not
# one row's fault and still fails the post, so SendGrid retries it.
_ROW_REFUSED = (sa.exc.DataError, sa.exc.IntegrityError, ValueError, OverflowError)


def store_events(
    engine: sa.Engine, events: Any, received_at: datetime | None = None, may_contain_nul: bool = True
) -> StoreResult:
    """Store a verified webhook batch (the parsed JSON array): each event once, malformed items set aside.

    ``may_contain_nul=False`` skips the NUL scrub when the caller saw no ``\\u0000`` in the raw body.
    Items are checked one by one, so a bad one is set aside with its reason and the rest stored; should
    the database still refuse the batch for one row's values, each row is retried on its own.
    """
    received_at = received_at or utcnow()
    if not isinstance(events, list):
        events = [events]
    result = StoreResult(received=len(events))
    rows: list[dict[str, Any]] = []
    positions: list[int] = []
    rejects: list[dict[str, Any]] = []
    seen: set[str] = set()
    for position, item in enumerate(events):
        try:
            row = _event_row(item, received_at, may_contain_nul)
        except ValueError as exc:
            rejects.append(_reject(position, str(exc), item, received_at))
            continue
        if row["sg_event_id"] in seen:  # a repeat inside one batch: one row, as across batches
            continue
        seen.add(row["sg_event_id"])
        rows.append(row)
        positions.append(position)
    try:
        with engine.begin() as conn:
            if rows:
                result.stored = _insert_events(conn, rows)
            if rejects:
                conn.execute(sa.insert(ingest_rejects), rejects)
    except _ROW_REFUSED as exc:
        log.warning(
            "webhook batch of %d refused by the database (%s); storing its events one by one",
            len(rows),
            type(exc).__name__,
        )
        result.stored = 0
        for position, row in zip(positions, rows, strict=True):
            try:
                with engine.begin() as conn:
                    result.stored += _insert_events(conn, [row])
            except _ROW_REFUSED as row_exc:
                reason = f"event refused by the database ({type(row_exc).__name__})"
                rejects.append(_reject(position, reason, events[position], received_at))
        with engine.begin() as conn:
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
