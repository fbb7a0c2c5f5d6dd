"""Rows and values the tests of several packages start from (fixtures stay in the conftest.py files).

A helper used by one package's tests only lives in ``tests/<package>/factories.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from funnelflow.db.schema import consents, email_sends, leads, suppressions, touchpoints
from funnelflow.identity import email_hash, email_key

REPO = Path(__file__).resolve().parent.parent

# The run time of ingestion, qualification and sending tests.
AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
# The time of the sends and consents the engagement and privacy tests start from.
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
# The key the SendGrid stand-in accepts.
API_KEY = "SG.test-key"


def rows(engine: sa.Engine, sql: str, **params) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]


def count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar_one()


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


def add_person(
    conn: sa.Connection,
    email: str,
    first_name: str | None = "Ada",
    consent: list[tuple[str, datetime]] | None = None,
    erased: bool = False,
) -> int:
    """A lead with its consent log (oldest first); default one `granted` an hour before AS_OF."""
    lead_id = conn.execute(
        sa.insert(leads).values(
            email=email.lower(),
            email_key=email_key(email),
            first_name=first_name,
            erased_at=AS_OF - timedelta(days=1) if erased else None,
        )
    ).inserted_primary_key[0]
    for status, at in consent if consent is not None else [("granted", AS_OF - timedelta(hours=1))]:
        conn.execute(
            sa.insert(consents).values(lead_id=lead_id, status=status, recorded_at=at, source="website")
        )
    return lead_id


def suppress(conn: sa.Connection, email: str, reason: str) -> None:
    conn.execute(sa.insert(suppressions).values(email_hash=email_hash(email), reason=reason, source="test"))


def touch(
    engine: sa.Engine,
    lead_id: int,
    touch_type: str,
    days_ago: float,
    page_url: str | None = None,
    *,
    as_of: datetime = AS_OF,
    scored: bool = True,
    detail: dict | None = None,
) -> None:
    """A web touchpoint `days_ago` days before `as_of`."""
    with engine.begin() as conn:
        conn.execute(
            touchpoints.insert().values(
                lead_id=lead_id,
                occurred_at=as_of - timedelta(days=days_ago),
                channel="web",
                touch_type=touch_type,
                page_url=page_url,
                scored=scored,
                detail=detail,
            )
        )


class FakeClock:
    """Time that moves only when the code under test sleeps: waits are asserted, never taken."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


AD_SOURCE = "linkedin-leadgen"


def ad_endpoint(fake, **kw):
    """The ad-platform source pointed at a `tests.fakes.ad_platform.FakeAdPlatform`; no waits unless asked."""
    from funnelflow.ingest.adplatform import AdPlatformEndpoint

    options = {"page_size": 5, "backoff_seconds": 0, **kw}
    return AdPlatformEndpoint(base_url=fake.base_url, token=fake.token, form_id=fake.form_id, **options)
