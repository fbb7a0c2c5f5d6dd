"""``pipeline_state``: the one owner of the small key/value facts runs keep between them.

Watermarks, cursors, the last rules that loaded, the day an alert last went out:
each is one row, keyed by a dotted name that starts with its area
(``qualify.``, ``ingest.``, ``email.``). Write it in the transaction that did the
work it records, so the work and its bookkeeping commit or roll back together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from funnelflow.db.schema import pipeline_state, utcnow


def get_state(conn: sa.Connection, key: str) -> Any:
    """The stored value of ``key`` (JSON), or None when nothing was stored yet."""
    return conn.execute(
        sa.select(pipeline_state.c.value).where(pipeline_state.c.key == key)
    ).scalar_one_or_none()


def put_state(conn: sa.Connection, key: str, value: Any, at: datetime | None = None) -> None:
    """Store ``value`` under ``key`` (insert or replace); call inside the transaction that did the work."""
    at = at or utcnow()
    updated = conn.execute(
        pipeline_state.update().where(pipeline_state.c.key == key).values(value=value, updated_at=at)
    ).rowcount
    if not updated:
        conn.execute(pipeline_state.insert().values(key=key, value=value, updated_at=at))
