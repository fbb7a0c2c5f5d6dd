"""Fixtures for the sending layer: the SendGrid stand-in, a fake clock, people with consent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from funnelflow.db.schema import consents, leads, suppressions
from funnelflow.email.send import SendOptions
from funnelflow.email.transports import SendGridTransport
from funnelflow.identity import email_hash, email_key
from tests.fakes.sendgrid_standin import StandIn, load_validator

AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
API_KEY = "SG.test-key"


@pytest.fixture(scope="session")
def mail_validator(sendgrid_spec_path: Path):
    return load_validator(sendgrid_spec_path)


@pytest.fixture
def standin(mail_validator) -> Iterator[StandIn]:
    server = StandIn(mail_validator, api_key=API_KEY).start()
    yield server
    server.stop()


@pytest.fixture
def sendgrid(standin: StandIn) -> SendGridTransport:
    """The real `sendgrid` client pointed at the stand-in."""
    return SendGridTransport(API_KEY, standin.base_url, timeout_s=10)


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


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def options(clock: FakeClock) -> SendOptions:
    return SendOptions(rate_per_s=0, concurrency=2, sleep=clock.sleep, clock=clock.time)


@pytest.fixture(autouse=True)
def _email_env(monkeypatch: pytest.MonkeyPatch, funnelflow_home: Path) -> None:
    monkeypatch.setenv("FUNNELFLOW_SECRET_KEY", "test-secret")
    monkeypatch.setenv("FUNNELFLOW_PUBLIC_URL", "https://mkt.example.org/funnelflow")
    monkeypatch.setenv("FUNNELFLOW_POSTAL_ADDRESS", "Acme Inc, 500 Test Road, Testville")


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
