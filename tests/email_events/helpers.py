"""Rows the engagement and privacy tests start from."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from funnelflow.db.schema import consents, email_sends, leads
from funnelflow.identity import email_hash, email_key

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def add_lead(conn: sa.Connection, email: str, first_name: str = "Jane", **extra) -> int:
    return conn.execute(
        sa.insert(leads)
        .values(
            email=email.lower(),
            email_key=email_key(email),
            email_domain=email.split("@")[1],
            first_name=first_name,
            **extra,
        )
        .returning(leads.c.id)
    ).scalar_one()


def add_send(
    conn: sa.Connection,
    lead_id: int | None,
    email: str,
    key: str = "welcome:1",
    status: str = "sent",
    claimed_at=T0,
    **extra,
) -> int:
    return conn.execute(
        sa.insert(email_sends)
        .values(
            message_key=key,
            recipient_hash=email_hash(email),
            lead_id=lead_id,
            campaign_id="welcome",
            template="welcome",
            kind="marketing",
            status=status,
            claimed_at=claimed_at,
            sent_at=None if status == "claimed" else claimed_at,
            **extra,
        )
        .returning(email_sends.c.id)
    ).scalar_one()


def add_consent(conn: sa.Connection, lead_id: int, status: str, at=T0, **extra) -> int:
    return conn.execute(
        sa.insert(consents)
        .values(lead_id=lead_id, channel="email", status=status, recorded_at=at, **extra)
        .returning(consents.c.id)
    ).scalar_one()
