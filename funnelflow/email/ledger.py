"""The send ledger ``email_sends``: one row per (message key, recipient), claimed before the request.

The guarantee is *at most once*. A row is inserted as ``claimed`` (committed)
before its message is handed to the transport, and set to ``sent`` after the
provider accepts it (SendGrid's 202). A retried or re-run task finds the claim
and never sends that message again, whatever happened in between:

- crash after the claim, before the request: the row stays ``claimed`` and
  nothing was sent; no event will ever name it, so the engagement DAG marks it
  ``unsettled`` after its window (the person does not get that message);
- crash after the 202, before our update: the row stays ``claimed``; SendGrid's
  ``processed``/``delivered`` events carry its id and the engagement DAG settles it;
- after the update: ``sent``, later ``delivered``/``bounced``/``dropped``.

Skipped recipients get a ``skipped`` row with the reason, so every skip is on
record and a rerun skips them again without asking the policy twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from funnelflow.db.schema import UTCDateTime, email_sends, utcnow
from funnelflow.email.policy import member_of


@dataclass(frozen=True)
class Claim:
    message_key: str
    recipient_hash: str
    lead_id: int | None
    template: str
    kind: str
    campaign_id: str | None = None
    skip_reason: str | None = None  # set: recorded as skipped, not claimed
    variant: str | None = None  # a campaign's A/B subject variant


def _insert(conn: sa.Connection):
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(email_sends)


def claim(
    conn: sa.Connection, claims: Sequence[Claim], now: datetime | None = None
) -> dict[tuple[str, str], int]:
    """Insert the claims (and skips) that are new; return ``{(message_key, recipient_hash): id}`` of new *claimed* rows.

    A (message key, recipient) already in the ledger, in any state, is left alone
    and not returned: that message was handled before and is not sent again.
    """
    if not claims:
        return {}
    now = now or utcnow()
    rows = [
        {
            "message_key": c.message_key,
            "recipient_hash": c.recipient_hash,
            "lead_id": c.lead_id,
            "campaign_id": c.campaign_id,
            "template": c.template,
            "kind": c.kind,
            "status": "skipped" if c.skip_reason else "claimed",
            "skip_reason": c.skip_reason,
            "claimed_at": now,
            "variant": c.variant,
        }
        for c in claims
    ]
    if conn.dialect.name == "postgresql":
        return _claim_postgres(conn, rows, now)
    stmt = (
        _insert(conn)
        .on_conflict_do_nothing(index_elements=["message_key", "recipient_hash"])
        .returning(
            email_sends.c.id, email_sends.c.message_key, email_sends.c.recipient_hash, email_sends.c.status
        )
    )
    result = conn.execute(stmt, rows)
    return {(key, h): row_id for row_id, key, h, status in result if status == "claimed"}


_CLAIM_PG = sa.text(
    # One statement and one JSON parameter for the whole chunk: serializing JSON is C-fast,
    # a thousand rows of bound parameters is not.
    "insert into email_sends (message_key, recipient_hash, lead_id, campaign_id, template, kind, status, skip_reason, variant, claimed_at) "
    "select r.message_key, r.recipient_hash, r.lead_id, r.campaign_id, r.template, r.kind, r.status, r.skip_reason, r.variant, :claimed_at "
    "from json_to_recordset(cast(:rows as json)) as r(message_key text, recipient_hash text, lead_id bigint, "
    "campaign_id text, template text, kind text, status text, skip_reason text, variant text) "
    "on conflict (message_key, recipient_hash) do nothing "
    "returning id, message_key, recipient_hash, status"
).bindparams(sa.bindparam("claimed_at", type_=UTCDateTime()), sa.bindparam("rows", type_=sa.Text()))


def _claim_postgres(conn: sa.Connection, rows: list[dict], now: datetime) -> dict[tuple[str, str], int]:
    payload = json.dumps([{k: v for k, v in r.items() if k != "claimed_at"} for r in rows])
    result = conn.execute(_CLAIM_PG, {"rows": payload, "claimed_at": now})
    return {(key, h): row_id for row_id, key, h, status in result if status == "claimed"}


def _id_chunks(ids: Sequence[int], size: int = 1000) -> Iterable[Sequence[int]]:
    ids = list(ids)
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def relax_commit(conn: sa.Connection) -> None:
    """Let this transaction's commit return before its WAL is flushed (PostgreSQL; a no-op elsewhere).

    Only for recording an outcome *after* the request: if the server crashes before the
    flush, the rows stay ``claimed`` (their claim was committed durably before the request),
    which is the documented "crash after the 202" state that SendGrid's events settle. Nothing
    is ever sent twice because of it. Never call it in the claim's transaction: the claim
    must be on disk before the message is handed over, or a crash could forget it and resend.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("set local synchronous_commit = off"))


def mark_sent(
    conn: sa.Connection, ids: Sequence[int], provider_message_id: str | None, now: datetime | None = None
) -> int:
    """Claimed → sent after the provider accepted the request. Rows already settled by events are left alone."""
    now = now or utcnow()
    relax_commit(conn)
    n = 0
    for part in _id_chunks(ids):
        n += conn.execute(
            sa.update(email_sends)
            .where(member_of(conn, email_sends.c.id, part), email_sends.c.status == "claimed")
            .values(status="sent", sent_at=now, provider_message_id=provider_message_id)
        ).rowcount
    return n


def mark_failed(conn: sa.Connection, ids: Sequence[int], error: str) -> int:
    """Claimed → failed: the provider refused the message (400/413); it is not retried."""
    relax_commit(conn)  # lost on a crash: the row stays claimed, so it is still never retried
    n = 0
    for part in _id_chunks(ids):
        n += conn.execute(
            sa.update(email_sends)
            .where(member_of(conn, email_sends.c.id, part), email_sends.c.status == "claimed")
            .values(status="failed", error=error[:2000])
        ).rowcount
    return n


def release(conn: sa.Connection, ids: Sequence[int]) -> int:
    """Remove claims the provider certainly did not accept (401/403, 5xx after retries), so a later run can send."""
    n = 0
    for part in _id_chunks(ids):
        n += conn.execute(
            sa.delete(email_sends).where(
                member_of(conn, email_sends.c.id, part), email_sends.c.status == "claimed"
            )
        ).rowcount
    return n
