"""``funnelflow.consent``: the current consent of many leads as of a time, and the writers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from funnelflow import consent
from funnelflow.db.schema import consents, leads

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _lead(conn, n: int) -> int:
    return conn.execute(
        sa.insert(leads)
        .values(email=f"p{n}@example.com", email_key=f"p{n}@example.com", created_at=T0, updated_at=T0)
        .returning(leads.c.id)
    ).scalar_one()


def test_current_status_is_the_newest_row_as_of_a_time_on_both_backends(engine):
    with engine.begin() as conn:
        a, b, c = (_lead(conn, n) for n in range(3))
        consent.record(conn, a, "pending", T0, source="web")
        consent.record(conn, a, "granted", T0 + timedelta(hours=1), source="confirm", client_ip="10.0.0.1")
        consent.record(conn, b, "granted", T0, source="import")
        consent.record(conn, b, "withdrawn", T0, source="unsubscribe")  # same time: the later row wins
        assert consent.current_status(conn, [a, b, c]) == {a: "granted", b: "withdrawn"}
        assert consent.current_status(conn, [a], as_of=T0 + timedelta(minutes=30)) == {a: "pending"}
        assert consent.current_status(conn, [a], channel="sms") == {}
        assert consent.current_status(conn, []) == {}
        assert consent.newest(conn, a).status == "granted"
        assert consent.newest(conn, c) is None

        assert consent.record_withdrawals(conn, [a, b, a], T0 + timedelta(days=1), source="test") == 1
        assert consent.current_status(conn, [a, b]) == {a: "withdrawn", b: "withdrawn"}
        assert consent.forget_client_addresses(conn, [a]) == 1
        assert (
            conn.execute(sa.select(sa.func.count()).where(consents.c.client_ip.is_not(None))).scalar_one()
            == 0
        )


def test_recently_current_takes_only_leads_whose_current_row_is_recent_and_has_the_status(engine):
    with engine.begin() as conn:
        old, fresh, changed = (_lead(conn, n) for n in range(3))
        consent.record(conn, old, "granted", T0 - timedelta(days=10), source="import")
        consent.record(conn, fresh, "granted", T0 - timedelta(hours=2), source="web")
        consent.record(conn, changed, "granted", T0 - timedelta(hours=3), source="web")
        consent.record(conn, changed, "withdrawn", T0 - timedelta(hours=1), source="unsubscribe")
        stmt = consent.recently_current("granted", T0 - timedelta(days=3), T0)
        assert [row[1] for row in conn.execute(stmt)] == [fresh]


def test_an_unknown_status_is_refused(engine):
    with engine.begin() as conn:
        lead = _lead(conn, 0)
        try:
            consent.record(conn, lead, "maybe", T0, source="x")
        except ValueError as exc:
            assert "maybe" in str(exc)
        else:
            raise AssertionError("an unknown status was recorded")
