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

``claimed_by`` names the task that claimed a row (``dag/task/run``, set by the
Airflow glue). A later try of the same task finds the rows an earlier try
claimed and left ``claimed`` (``settle_earlier_claims``): it cannot prove they
were not sent, so it never sends them again; it marks them ``unsettled`` and the
run fails loudly instead of reporting them as already handled.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from funnelflow import sql
from funnelflow.db.helpers import chunks, dialect_insert, is_postgres, member_of
from funnelflow.db.schema import UTCDateTime, email_events, email_sends, utcnow


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


def claim(
    conn: sa.Connection,
    claims: Sequence[Claim],
    now: datetime | None = None,
    claimed_by: str | None = None,
) -> dict[tuple[str, str], int]:
    """Insert the claims (and skips) that are new;
    return ``{(message_key, recipient_hash): id}`` of new *claimed* rows.

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
            "variant": c.variant,
        }
        for c in claims
    ]
    if is_postgres(conn):
        return _claim_postgres(conn, rows, now, claimed_by)
    for row in rows:
        row["claimed_at"], row["claimed_by"] = now, claimed_by
    stmt = (
        dialect_insert(conn, email_sends)
        .on_conflict_do_nothing(index_elements=["message_key", "recipient_hash"])
        .returning(
            email_sends.c.id, email_sends.c.message_key, email_sends.c.recipient_hash, email_sends.c.status
        )
    )
    result = conn.execute(stmt, rows)
    return {(key, h): row_id for row_id, key, h, status in result if status == "claimed"}


@functools.cache
def _claim_statement() -> sa.TextClause:
    return sql.load("email/claim_sends", "postgresql").bindparams(
        sa.bindparam("claimed_at", type_=UTCDateTime()), sa.bindparam("rows", type_=sa.Text())
    )


def _claim_postgres(
    conn: sa.Connection, rows: list[dict], now: datetime, claimed_by: str | None
) -> dict[tuple[str, str], int]:
    payload = json.dumps(rows)  # the time and the claimer are one parameter each, not one per row
    result = conn.execute(_claim_statement(), {"rows": payload, "claimed_at": now, "claimed_by": claimed_by})
    return {(key, h): row_id for row_id, key, h, status in result if status == "claimed"}


def relax_commit(conn: sa.Connection) -> None:
    """Let this transaction's commit return before its WAL is flushed (PostgreSQL; a no-op elsewhere).

    Only for recording an outcome *after* the request: if the server crashes before the
    flush, the rows stay ``claimed`` (their claim was committed durably before the request),
    which is the documented "crash after the 202" state that SendGrid's events settle. Nothing
    is ever sent twice because of it. Never call it in the claim's transaction: the claim
    must be on disk before the message is handed over, or a crash could forget it and resend.
    """
    if is_postgres(conn):
        conn.execute(sa.text("set local synchronous_commit = off"))


def mark_sent(
    conn: sa.Connection, ids: Sequence[int], provider_message_id: str | None, now: datetime | None = None
) -> int:
    """Claimed → sent after the provider accepted the request.
    Rows already settled by events are left alone."""
    now = now or utcnow()
    relax_commit(conn)
    n = 0
    for part in chunks(ids):
        n += conn.execute(
            sa.update(email_sends)
            .where(member_of(conn, email_sends.c.id, part), email_sends.c.status == "claimed")
            .values(status="sent", sent_at=now, provider_message_id=provider_message_id)
        ).rowcount
    return n


def mark_failed(conn: sa.Connection, ids: Sequence[int], error: str) -> int:
    """Claimed → failed: the message could not be built or the provider refused it (400/413);
    never retried."""
    relax_commit(conn)  # lost on a crash: the row stays claimed, so it is still never retried
    n = 0
    for part in chunks(ids):
        n += conn.execute(
            sa.update(email_sends)
            .where(member_of(conn, email_sends.c.id, part), email_sends.c.status == "claimed")
            .values(status="failed", error=error[:2000])
        ).rowcount
    return n


def release(conn: sa.Connection, ids: Sequence[int]) -> int:
    """Remove claims the provider certainly did not accept (401/403, 5xx after retries),
    so a later run can send."""
    n = 0
    for part in chunks(ids):
        n += conn.execute(
            sa.delete(email_sends).where(
                member_of(conn, email_sends.c.id, part), email_sends.c.status == "claimed"
            )
        ).rowcount
    return n


UNSETTLED_BY_RETRY = (
    "claimed by an earlier try of this task and not recorded sent or failed; "
    "not sent again (at most once): SendGrid's events settle it if it went out"
)


def settle_earlier_claims(
    conn: sa.Connection, claimed_by: str, as_of: datetime
) -> list[tuple[int, str, str]]:
    """Rows an earlier try of task ``claimed_by`` left ``claimed``: mark them ``unsettled``;
    return ``(id, key, hash)``.

    Whether such a message left cannot be known here (the try may have died before or
    after the request), so it is never sent again; events can still settle it
    (``delivered``/``bounced``/``dropped`` follow ``unsettled``). Except where SendGrid
    has already said so: a row an event names (``custom_args.send_id``, stored by the
    webhook even if not processed yet) was accepted by SendGrid, so it is ``sent``, not
    unknown, and is not returned. Called on retries only: ``claimed_by`` has no index,
    and a first try has no earlier claims.
    """
    rows = conn.execute(
        sa.select(email_sends.c.id, email_sends.c.message_key, email_sends.c.recipient_hash).where(
            email_sends.c.claimed_by == claimed_by, email_sends.c.status == "claimed"
        )
    ).all()
    ids = [row_id for row_id, _, _ in rows]
    accepted: set[int] = set()
    for part in chunks(ids):
        accepted.update(
            conn.execute(
                sa.select(email_events.c.send_id)
                .where(member_of(conn, email_events.c.send_id, part))
                .distinct()
            ).scalars()
        )
    for part in chunks(sorted(accepted)):
        conn.execute(
            sa.update(email_sends)
            .where(member_of(conn, email_sends.c.id, part), email_sends.c.status == "claimed")
            .values(status="sent", sent_at=as_of)
        )
    unknown = [row_id for row_id in ids if row_id not in accepted]
    for part in chunks(unknown):
        conn.execute(
            sa.update(email_sends)
            .where(member_of(conn, email_sends.c.id, part), email_sends.c.status == "claimed")
            .values(status="unsettled", settled_at=as_of, error=UNSETTLED_BY_RETRY)
        )
    return [(row_id, key, h) for row_id, key, h in rows if row_id not in accepted]


def still_claimed(conn: sa.Connection, ids: Sequence[int]) -> int:
    """How many of ``ids`` are still ``claimed`` (events may have settled some meanwhile)."""
    n = 0
    for part in chunks(ids):
        n += conn.execute(
            sa.select(sa.func.count()).where(
                member_of(conn, email_sends.c.id, part), email_sends.c.status == "claimed"
            )
        ).scalar_one()
    return n
