"""What a person does from a link in an email: unsubscribe, or confirm a double opt-in.

Both act on ids carried by signed tokens (``funnelflow.email.tokens``), never
on an address, and both are idempotent: a second click changes nothing.

- ``unsubscribe``: the send row names the recipient (``recipient_hash``); an
  ``unsubscribe`` suppression on that hash stops every later marketing send at
  once (the send policy reads suppressions before each message), and the lead
  gets a ``withdrawn`` row in the consent log.
- ``confirm``: a ``pending`` consent becomes ``granted`` by appending a row
  with the time and the client's address (the proof of the opt-in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from funnelflow import consent, suppressions
from funnelflow.db.schema import email_sends, leads

UNSUBSCRIBE_SOURCE = "unsubscribe-link"
CONFIRM_SOURCE = "double-opt-in"


@dataclass(frozen=True)
class Outcome:
    status: str  # done, already, unknown, gone, superseded
    changed: bool = False


def preview_unsubscribe(engine: sa.Engine, send_id: int) -> Outcome:
    """What a POST would do, read-only (the GET page)."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(email_sends.c.id).where(email_sends.c.id == send_id)).first()
    return Outcome("ready" if row else "unknown")


def unsubscribe(engine: sa.Engine, send_id: int, at: datetime) -> Outcome:
    with engine.begin() as conn:
        send = conn.execute(
            sa.select(email_sends.c.recipient_hash, email_sends.c.lead_id).where(email_sends.c.id == send_id)
        ).first()
        if send is None:
            return Outcome("unknown")
        added = suppressions.add(
            conn,
            [
                {
                    "email_hash": send.recipient_hash,
                    "reason": "unsubscribe",
                    "scope": "all",
                    "source": UNSUBSCRIBE_SOURCE,
                    "detail": f"send {send_id}",
                    "created_at": at,
                }
            ],
        )
        withdrawn = 0
        if send.lead_id is not None:
            erased = conn.execute(sa.select(leads.c.erased_at).where(leads.c.id == send.lead_id)).scalar()
            if erased is None:
                withdrawn = consent.record_withdrawals(conn, [send.lead_id], at, source=UNSUBSCRIBE_SOURCE)
    changed = bool(added or withdrawn)
    return Outcome("done" if changed else "already", changed)


def _confirm_state(conn: sa.Connection, consent_id: int, lock: bool = False) -> tuple[str, sa.Row | None]:
    pending = consent.get(conn, consent_id)
    if pending is None or pending.status != "pending":
        return "unknown", None
    lead_q = sa.select(leads.c.erased_at).where(leads.c.id == pending.lead_id)
    if lock:
        lead_q = (
            lead_q.with_for_update()
        )  # two clicks at once append one row (PostgreSQL; SQLite serializes writers)
    lead = conn.execute(lead_q).first()
    if lead is None or lead.erased_at is not None:
        return "gone", None
    newest = consent.newest(conn, pending.lead_id, pending.channel)
    if newest.status == "granted":
        return "already", pending
    if newest.id != pending.id and newest.status in ("withdrawn", "denied"):
        return "superseded", pending  # they said no after this request; an old link does not overrule that
    return "ready", pending


def preview_confirm(engine: sa.Engine, consent_id: int) -> Outcome:
    """What a POST would do, read-only (the GET page: mail scanners open links)."""
    with engine.connect() as conn:
        state, _ = _confirm_state(conn, consent_id)
    return Outcome(state)


def confirm(engine: sa.Engine, consent_id: int, at: datetime, client_ip: str | None) -> Outcome:
    with engine.begin() as conn:
        state, pending = _confirm_state(conn, consent_id, lock=True)
        if state != "ready":
            return Outcome(state)
        consent.record(
            conn,
            pending.lead_id,
            "granted",
            at,
            source=CONFIRM_SOURCE,
            channel=pending.channel,
            wording_version=pending.wording_version,
            client_ip=client_ip,
        )
    return Outcome("done", True)
