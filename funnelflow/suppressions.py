"""Suppressions: the one module that reads and writes ``suppressions``.

A suppression says "do not email this address", keyed by the address's hash so
it outlives the erasure of the person, with the reason it was given (bounce,
unsubscribe, erased, ...) and its ``scope``:

- ``all``: stops marketing, and stops transactional mail too when the reason
  says the address does not work or the person is gone (bounce, invalid, erased);
- ``marketing``: stops marketing mail only; transactional mail still goes.

The send policy (``funnelflow.email.policy``) asks ``check`` with the kind of
message, so the scope is honoured in one place. The table keeps the first word
per (hash, reason): adding one that is there already changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from funnelflow import sql
from funnelflow.db.helpers import chunks, dialect_insert, member_of
from funnelflow.db.schema import SUPPRESSION_REASONS, suppressions

SCOPES = ("all", "marketing")
# Which scopes stop a message of each kind.
STOPPING_SCOPES = {"marketing": ("all", "marketing"), "transactional": ("all",)}
# Rows per INSERT statement: under PostgreSQL's 65,535 and SQLite's 32,766 bind parameters.
INSERT_CHUNK = 1000


def scopes_stopping(kind: str) -> tuple[str, ...]:
    """The scopes whose suppressions stop a message of ``kind`` (marketing, transactional)."""
    try:
        return STOPPING_SCOPES[kind]
    except KeyError:
        raise ValueError(f"kind must be one of {tuple(STOPPING_SCOPES)}, got {kind!r}") from None


def add(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert suppressions (email_hash, reason, scope, source, detail, created_at) not there yet;
    how many were new."""
    return len(add_new(conn, rows))


def add_new(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> set[tuple[str, str]]:
    """Insert the suppressions that are not there yet; the (email_hash, reason) pairs that were new."""
    added: set[tuple[str, str]] = set()
    first: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:  # the earliest word per (hash, reason) in this batch; the table keeps the first ever
        _check(row)
        first.setdefault((row["email_hash"], row["reason"]), row)
    for chunk in chunks(list(first.values()), INSERT_CHUNK):
        stmt = (
            dialect_insert(conn, suppressions)
            .values(chunk)
            .on_conflict_do_nothing(index_elements=["email_hash", "reason"])
            .returning(suppressions.c.email_hash, suppressions.c.reason)
        )
        added.update((h, r) for h, r in conn.execute(stmt))
    return added


def add_from_arrivals(conn: sa.Connection, *, source: str, detail: str, now: Any) -> None:
    """Ingestion: a ``do_not_email`` suppression per flagged address of the staged batch (set-based)."""
    conn.execute(sql.load("suppressions/add_from_arrivals"), {"source": source, "detail": detail, "now": now})


def check(conn: sa.Connection, hashes: Iterable[str], kind: str = "marketing") -> dict[str, set[str]]:
    """The reasons that stop a message of ``kind`` to each hash (hashes with none are absent)."""
    scopes = scopes_stopping(kind)
    found: dict[str, set[str]] = {}
    for part in chunks(sorted(set(hashes))):
        for h, reason in conn.execute(
            sa.select(suppressions.c.email_hash, suppressions.c.reason).where(
                member_of(conn, suppressions.c.email_hash, part), suppressions.c.scope.in_(scopes)
            )
        ):
            found.setdefault(h, set()).add(reason)
    return found


def having_reason(conn: sa.Connection, hashes: Iterable[str], reason: str) -> set[str]:
    """The hashes among ``hashes`` that carry a suppression for ``reason`` (e.g. ``erased``)."""
    out: set[str] = set()
    for part in chunks(sorted(set(hashes)), 900):
        out.update(
            conn.execute(
                sa.select(suppressions.c.email_hash).where(
                    suppressions.c.email_hash.in_(part), suppressions.c.reason == reason
                )
            ).scalars()
        )
    return out


def remove(conn: sa.Connection, email_hash: str, reason: str, source: str) -> int:
    """Drop the suppression for ``reason`` that ``source`` gave (a re-subscription); rows removed."""
    return conn.execute(
        sa.delete(suppressions).where(
            suppressions.c.email_hash == email_hash,
            suppressions.c.reason == reason,
            suppressions.c.source == source,
        )
    ).rowcount


def listing(conn: sa.Connection, reason: str | None = None, limit: int = 100) -> list[sa.Row]:
    """The newest suppressions (hash, reason, scope, source, detail, created_at), of one reason when given."""
    query = sa.select(
        suppressions.c.email_hash,
        suppressions.c.reason,
        suppressions.c.scope,
        suppressions.c.source,
        suppressions.c.detail,
        suppressions.c.created_at,
    ).order_by(suppressions.c.created_at.desc(), suppressions.c.id.desc())
    if reason is not None:
        query = query.where(suppressions.c.reason == reason)
    return list(conn.execute(query.limit(limit)))


def counts_by_reason(conn: sa.Connection) -> dict[str, int]:
    """How many suppressions there are per reason."""
    query = sa.select(suppressions.c.reason, sa.func.count()).group_by(suppressions.c.reason)
    return {reason: n for reason, n in conn.execute(query)}


def _check(row: dict[str, Any]) -> None:
    if row["reason"] not in SUPPRESSION_REASONS:
        raise ValueError(f"suppression reason must be one of {SUPPRESSION_REASONS}, got {row['reason']!r}")
    if row.get("scope", "all") not in SCOPES:
        raise ValueError(f"suppression scope must be one of {SCOPES}, got {row.get('scope')!r}")
