"""Consent: the one module that reads and writes ``consents``.

The table is an append-only log per (lead, channel). A person's *current*
consent is their newest row (latest ``recorded_at``, ties broken by the higher
``id``); older rows are the proof of what was said when. That rule is written
here once: ``current_status`` (many leads, as of a time), ``newest`` (one lead,
the row itself), ``recently_current`` (the set-based form, for mailings), and
in ``include/sql/consent/`` for the set-based statements (ingestion's import).

Writers append: ``record`` (a grant, denial, withdrawal or pending request),
``record_withdrawals`` (an unsubscribe, for many leads at once) and
``record_from_arrivals`` (ingestion's staged batch, set-based).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa

from funnelflow import sql
from funnelflow.db.helpers import chunks
from funnelflow.db.schema import CONSENT_STATUSES, UTCDateTime, consents, leads

EMAIL = "email"
# The order that puts a lead's current row first: the one definition of "newest".
NEWEST_FIRST = (consents.c.recorded_at.desc(), consents.c.id.desc())
# Leads per statement of ``current_status`` (they travel as one JSON parameter).
CHUNK = 5000


def current_status(
    conn: sa.Connection, lead_ids: Iterable[int], channel: str = EMAIL, as_of: datetime | None = None
) -> dict[int, str]:
    """The current consent status per lead (leads without any row are absent), as of ``as_of`` when given."""
    ids = sorted(set(lead_ids))
    statement = _current_status_statement(conn.dialect.name)
    found: dict[int, str] = {}
    for part in chunks(ids, CHUNK):  # one round trip per chunk: one index probe per lead
        params = {"lead_ids": json.dumps(part), "channel": channel, "as_of": as_of}
        found.update((lead_id, status) for lead_id, status in conn.execute(statement, params))
    return found


@functools.cache
def _current_status_statement(dialect: str) -> sa.TextClause:
    return sql.load("consent/current_status", dialect).bindparams(sa.bindparam("as_of", type_=UTCDateTime()))


def newest(conn: sa.Connection, lead_id: int, channel: str = EMAIL) -> sa.Row | None:
    """The lead's current consent row (id, status, recorded_at), or None when it has none."""
    return conn.execute(
        sa.select(consents.c.id, consents.c.status, consents.c.recorded_at)
        .where(consents.c.lead_id == lead_id, consents.c.channel == channel)
        .order_by(*NEWEST_FIRST)
        .limit(1)
    ).first()


def get(conn: sa.Connection, consent_id: int) -> sa.Row | None:
    """One consent row by id (id, lead_id, channel, status, recorded_at, wording_version)."""
    return conn.execute(
        sa.select(
            consents.c.id,
            consents.c.lead_id,
            consents.c.channel,
            consents.c.status,
            consents.c.recorded_at,
            consents.c.wording_version,
        ).where(consents.c.id == consent_id)
    ).first()


def recently_current(status: str, since: datetime, as_of: datetime, channel: str = EMAIL) -> sa.Select:
    """Live, mailable leads whose current consent (as of ``as_of``) has ``status``
    and was recorded after ``since``.

    Selects (consent id, lead id, email, first name), in consent-id order.
    """
    _check_status(status)
    recent_leads = sa.select(consents.c.lead_id).where(
        consents.c.channel == channel, consents.c.recorded_at > since, consents.c.recorded_at <= as_of
    )
    ranked = (
        sa.select(
            consents.c.id,
            consents.c.lead_id,
            consents.c.status,
            consents.c.recorded_at,
            sa.func.row_number().over(partition_by=consents.c.lead_id, order_by=NEWEST_FIRST).label("rn"),
        )
        .where(
            consents.c.channel == channel,
            consents.c.recorded_at <= as_of,
            consents.c.lead_id.in_(recent_leads),
        )
        .subquery()
    )
    return (
        sa.select(ranked.c.id, leads.c.id, leads.c.email, leads.c.first_name)
        .join(leads, leads.c.id == ranked.c.lead_id)
        .where(
            ranked.c.rn == 1,
            ranked.c.status == status,
            ranked.c.recorded_at > since,
            leads.c.email.is_not(None),
            leads.c.erased_at.is_(None),
            leads.c.merged_into_id.is_(None),
        )
        .order_by(ranked.c.id)
    )


def record(
    conn: sa.Connection,
    lead_id: int,
    status: str,
    at: datetime,
    *,
    source: str,
    legal_basis: str | None = "consent",
    channel: str = EMAIL,
    wording_version: str | None = None,
    client_ip: str | None = None,
) -> int:
    """Append one consent row (a grant, denial, withdrawal or pending request); returns its id."""
    _check_status(status)
    return conn.execute(
        sa.insert(consents)
        .values(
            lead_id=lead_id,
            channel=channel,
            status=status,
            legal_basis=legal_basis,
            source=source,
            wording_version=wording_version,
            client_ip=(client_ip or None) and client_ip[:45],
            recorded_at=at,
        )
        .returning(consents.c.id)
    ).scalar_one()


def record_withdrawals(
    conn: sa.Connection, lead_ids: Iterable[int], at: datetime, source: str, channel: str = EMAIL
) -> int:
    """Append a ``withdrawn`` row for each lead whose consent is not already withdrawn;
    how many were added."""
    ids = sorted(set(lead_ids))
    if not ids:
        return 0
    current = current_status(conn, ids, channel)
    rows = [
        {
            "lead_id": i,
            "channel": channel,
            "status": "withdrawn",
            "legal_basis": "consent",
            "source": source,
            "recorded_at": at,
        }
        for i in ids
        if current.get(i) != "withdrawn"
    ]
    if rows:
        conn.execute(sa.insert(consents), rows)
    return len(rows)


def _check_status(status: str) -> None:
    if status not in CONSENT_STATUSES:
        raise ValueError(f"consent status must be one of {CONSENT_STATUSES}, got {status!r}")


def forget_client_addresses(conn: sa.Connection, lead_ids: Sequence[int]) -> int:
    """Erasure: clear the client addresses of these leads' rows (the statuses stay, as proof);
    rows changed."""
    changed = 0
    for part in chunks(sorted(set(lead_ids)), 900):
        changed += conn.execute(
            sa.update(consents)
            .where(consents.c.lead_id.in_(part), consents.c.client_ip.is_not(None))
            .values(client_ip=None)
        ).rowcount
    return changed


def record_from_arrivals(
    conn: sa.Connection,
    *,
    source: str,
    wording_version: str | None,
    always: bool,
    default_status: str | None,
    default_basis: str | None,
) -> None:
    """Ingestion: the consents of the staged batch (``include/sql/consent/record_from_arrivals.sql``).

    One row per person and status (the first arrival's); an import never overrides a
    status a person already has, except to record a refusal; ``always`` (web-form
    opt-ins) appends regardless.
    """
    conn.execute(
        sql.load("consent/record_from_arrivals"),
        {
            "source": source,
            "wording_version": wording_version,
            "always": always,
            "default_status": default_status,
            "default_basis": default_basis,
        },
    )
