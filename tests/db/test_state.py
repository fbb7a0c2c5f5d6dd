"""``funnelflow.db.state``: the one place that reads and writes ``pipeline_state``."""

from __future__ import annotations

from datetime import UTC, datetime

from funnelflow.db.state import get_state, put_state


def test_put_then_get_replaces_the_value_on_both_backends(engine):
    with engine.begin() as conn:
        assert get_state(conn, "test.key") is None
        put_state(conn, "test.key", {"cursor": "a"})
        put_state(conn, "test.key", {"cursor": "b"}, at=datetime(2026, 1, 1, tzinfo=UTC))
        assert get_state(conn, "test.key") == {"cursor": "b"}
    with engine.begin() as conn:
        conn.exec_driver_sql("select 1")
        assert get_state(conn, "test.key") == {"cursor": "b"}
        assert get_state(conn, "other.key") is None
