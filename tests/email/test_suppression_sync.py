"""sendgrid_suppression_sync against the local stand-in of SendGrid's suppression API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from funnelflow.db.schema import consents, suppressions
from funnelflow.email.suppression_sync import SendGridAuthError, sync_suppressions
from funnelflow.identity import email_hash
from tests.factories import add_consent, add_lead, add_send
from tests.fakes.sendgrid_suppressions import SuppressionStandIn

END = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
START = END - timedelta(days=1)
IN_WINDOW = int((END - timedelta(hours=3)).timestamp())


@pytest.fixture
def standin():
    s = SuppressionStandIn()
    url = s.start()
    s.base_url = url
    yield s
    s.stop()


def _suppressions(engine):
    with engine.connect() as conn:
        return {(r.email_hash, r.reason): r for r in conn.execute(sa.select(suppressions))}


def test_adds_what_the_webhook_missed_and_nothing_twice(engine, standin):
    with engine.begin() as conn:
        lead = add_lead(conn, "unsub@example.com")
        add_consent(conn, lead, "granted")
        add_send(conn, lead, "unsub@example.com")
        # The webhook already told us about this bounce.
        conn.execute(
            sa.insert(suppressions).values(
                email_hash=email_hash("known@example.com"), reason="bounce", source="sendgrid-webhook"
            )
        )
    standin.add(
        "bounces", email="known@example.com", created=IN_WINDOW, reason="550 5.1.1 unknown", status="5.1.1"
    )
    standin.add(
        "bounces",
        email="Missed@Example.com",
        created=IN_WINDOW,
        reason="550 5.1.1 <missed@example.com> unknown",
        status="5.1.1",
    )
    standin.add("blocks", email="temp@example.com", created=IN_WINDOW, reason="try later", status="4.0.0")
    standin.add(
        "blocks", email="nouser@example.com", created=IN_WINDOW, reason="no such user", status="5.1.1"
    )
    standin.add("spam_reports", email="spam@example.com", created=IN_WINDOW, ip="10.0.0.1")
    standin.add("invalid_emails", email="bad@example.com", created=IN_WINDOW, reason="Mail domain unknown")
    standin.add("unsubscribes", email="unsub@example.com", created=IN_WINDOW)
    standin.add(
        "unsubscribes", email="old@example.com", created=int((START - timedelta(days=5)).timestamp())
    )  # outside the window

    result = sync_suppressions(engine, standin.api_key, standin.base_url, START, END, sleep=lambda s: None)
    got = _suppressions(engine)
    assert set(got) == {
        (email_hash("known@example.com"), "bounce"),
        (email_hash("missed@example.com"), "bounce"),
        (email_hash("nouser@example.com"), "bounce"),
        (email_hash("spam@example.com"), "spam_report"),
        (email_hash("bad@example.com"), "invalid"),
        (email_hash("unsub@example.com"), "unsubscribe"),
    }
    assert result.added == {
        "bounces": 1,
        "blocks": 1,
        "spam_reports": 1,
        "invalid_emails": 1,
        "unsubscribes": 1,
    }
    assert result.temporary_blocks == 1 and result.withdrawals == 1
    assert (
        got[(email_hash("known@example.com"), "bounce")].source == "sendgrid-webhook"
    )  # the first word stays
    assert "@" not in got[(email_hash("missed@example.com"), "bounce")].detail
    with engine.connect() as conn:
        assert [
            r.status
            for r in conn.execute(
                sa.select(consents.c.status).where(consents.c.lead_id == lead).order_by(consents.c.id)
            )
        ] == [
            "granted",
            "withdrawn",
        ]
    # The window asked for is the run's interval widened by a day; every list was asked with it.
    asked = {r.path: r.query for r in standin.requests}
    assert set(asked) == {
        f"/v3/suppression/{n}"
        for n in ("bounces", "blocks", "spam_reports", "invalid_emails", "unsubscribes")
    }
    assert all(
        q["start_time"] == str(int((START - timedelta(days=1)).timestamp()))
        and q["end_time"] == str(int(END.timestamp()))
        for q in asked.values()
    )
    # A rerun adds nothing.
    again = sync_suppressions(engine, standin.api_key, standin.base_url, START, END, sleep=lambda s: None)
    assert sum(again.added.values()) == 0 and again.withdrawals == 0


def test_pages_through_long_lists(engine, standin):
    for i in range(1203):
        standin.add("bounces", email=f"b{i}@example.com", created=IN_WINDOW - i, reason="550", status="5.1.1")
    result = sync_suppressions(engine, standin.api_key, standin.base_url, START, END, sleep=lambda s: None)
    assert result.read["bounces"] == 1203 and result.added["bounces"] == 1203
    offsets = [r.query["offset"] for r in standin.requests if r.path.endswith("/bounces")]
    assert offsets == ["0", "500", "1000"]


def test_rate_limit_waits_until_reset_then_continues(engine, standin):
    standin.add("spam_reports", email="spam@example.com", created=IN_WINDOW, ip="10.0.0.1")
    fake_now = 1_800_000_000.0
    standin.queue_failure(429, reset=int(fake_now) + 7)
    waited: list[float] = []

    import funnelflow.email.suppression_sync as sync_module

    client = sync_module._client(standin.api_key, standin.base_url)
    entries = sync_module.fetch_list(
        client, "spam_reports", 0, 2_000_000_000, sleep=waited.append, now=lambda: fake_now
    )
    assert waited == [7.0]
    assert [e["email"] for e in entries] == ["spam@example.com"]
    assert [r.status for r in standin.requests] == [429, 200]


def test_wrong_key_fails_loudly_without_the_key_in_the_message(engine, standin):
    with pytest.raises(SendGridAuthError) as err:
        sync_suppressions(engine, "SG.wrong", standin.base_url, START, END, sleep=lambda s: None)
    assert "sendgrid_default" in str(err.value) and "SG.wrong" not in str(err.value)
    assert _suppressions(engine) == {}


def test_server_error_fails_the_task_for_airflow_to_retry(engine, standin):
    standin.queue_failure(500)
    with pytest.raises(RuntimeError, match="500"):
        sync_suppressions(engine, standin.api_key, standin.base_url, START, END, sleep=lambda s: None)
