"""``python -m funnelflow status``: sends by status, waiting events, suppressions by reason, the breaker."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from funnelflow.db.schema import SEND_STATUSES, SUPPRESSION_REASONS, email_events, suppressions
from funnelflow.identity import email_hash
from funnelflow.status import collect
from tests.email_events.helpers import T0, add_lead, add_send


def _event(conn: sa.Connection, n: int, processed: bool) -> None:
    conn.execute(
        sa.insert(email_events).values(
            sg_event_id=f"ev-{n}",
            event="delivered",
            occurred_at=T0,
            received_at=T0,
            processed_at=T0 if processed else None,
        )
    )


def _fill(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        lead = add_lead(conn, "jane@example.com")
        statuses = ["delivered"] * 8 + ["bounced"] * 2 + ["unsettled", "claimed"]
        for n, status in enumerate(statuses):
            add_send(conn, lead, f"p{n}@example.com", key=f"k:{n}", status=status, claimed_at=T0)
        for n in range(3):
            _event(conn, n, processed=n == 0)
        for n, reason in enumerate(["bounce", "bounce", "unsubscribe"]):
            conn.execute(
                sa.insert(suppressions).values(email_hash=email_hash(f"s{n}@example.com"), reason=reason)
            )


def test_status_counts_sends_waiting_events_suppressions_and_the_breaker(engine, monkeypatch):
    monkeypatch.setenv("FUNNELFLOW_BREAKER_MIN_SENDS", "10")
    _fill(engine)
    s = collect(engine, T0 + timedelta(days=1))
    assert list(s["emails"]) == list(SEND_STATUSES)  # every status, 0 when none
    assert s["emails"]["delivered"] == 8 and s["emails"]["bounced"] == 2
    assert s["emails"]["unsettled"] == 1 and s["emails"]["claimed"] == 1 and s["emails"]["failed"] == 0
    assert s["events_waiting"] == 2 and s["landed_waiting"] == 0
    assert list(s["suppressions"]) == list(SUPPRESSION_REASONS)
    assert s["suppressions"]["bounce"] == 2 and s["suppressions"]["unsubscribe"] == 1
    assert s["suppressions"]["erased"] == 0
    # 2 bounces in 11 judged sends (claimed ones are not judged): over the 5% limit.
    breaker = s["breaker"]
    assert breaker["tripped"] is True and breaker["sends"] == 11 and "bounce rate" in breaker["reason"]
    # Eight days later the window holds no sends: marketing email flows again.
    assert collect(engine, T0 + timedelta(days=8))["breaker"]["tripped"] is False


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_status_command_prints_them(marketing_db_env, funnelflow_home, monkeypatch, capsys):
    from funnelflow.cli import main
    from funnelflow.db.engine import make_engine

    monkeypatch.setenv("FUNNELFLOW_BREAKER_MIN_SENDS", "10")
    engine = make_engine(marketing_db_env)
    _fill(engine)
    engine.dispose()
    assert main(["status", "--as-of", (T0 + timedelta(days=1)).isoformat()]) == 0
    out = capsys.readouterr().out
    assert "unsettled 1" in out and "claimed 1" in out
    assert "2  SendGrid events not yet processed" in out
    assert "suppressions: unsubscribe 1, bounce 2, spam_report 0," in out
    assert "breaker:      TRIPPED" in out
    assert "example.com" not in out  # counts, never a person
