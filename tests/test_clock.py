"""funnelflow.clock: stamps are the real time unless the demo's setting or a pin moves them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from funnelflow import clock
from funnelflow.db.schema import email_sends, utcnow
from funnelflow.email import ledger

DEMO_DAY = datetime(2026, 11, 23, 12, tzinfo=UTC)


def _claim(engine, key: str) -> datetime:
    with engine.begin() as conn:
        ids = ledger.claim(conn, [ledger.Claim(key, "h" * 64, None, "welcome", "transactional")])
        ledger.mark_sent(conn, list(ids.values()), None)
        row = conn.execute(sa.select(email_sends).where(email_sends.c.message_key == key)).one()
    assert row.claimed_at <= row.sent_at
    return row.sent_at


def test_without_the_demo_setting_stamps_are_the_real_time(engine, monkeypatch):
    monkeypatch.delenv(clock.OFFSET_ENV, raising=False)
    before = datetime.now(UTC)
    sent_at = _claim(engine, "real")
    after = datetime.now(UTC)
    # SQLite keeps microseconds; PostgreSQL too: the stamp lies between the two readings.
    assert before <= sent_at <= after
    assert clock.offset() == timedelta(0)
    assert before <= utcnow() and utcnow() - datetime.now(UTC) < timedelta(seconds=1)


def test_the_offset_moves_every_stamp_and_a_pin_holds_it(engine, monkeypatch):
    monkeypatch.setenv(clock.OFFSET_ENV, clock.offset_to(DEMO_DAY))
    sent_at = _claim(engine, "demo")
    assert DEMO_DAY <= sent_at < DEMO_DAY + timedelta(minutes=1)
    with clock.pinned(DEMO_DAY - timedelta(weeks=3)) as at:
        assert _claim(engine, "pinned") == at == utcnow()
    assert DEMO_DAY <= utcnow() < DEMO_DAY + timedelta(minutes=1)  # the pin ends with its block


@pytest.mark.parametrize("text", ["soon", "nan", "1e300"])
def test_a_wrong_offset_is_refused_with_its_name(monkeypatch, text):
    monkeypatch.setenv(clock.OFFSET_ENV, text)
    with pytest.raises(ValueError, match=clock.OFFSET_ENV):
        clock.now()
