"""The ingestion stage: a batch of arrivals and the people they name, written to the CRM in set-based SQL.

Every source ends here. A batch is two temporary tables: ``ingest_arrivals``
(one row per arrival: its touchpoint, consent and do-not-email facts) and
``ingest_people`` (one row per ``match_key`` with the first non-blank value of
each lead field and the earliest and latest arrival time). Both are built in
plain Python (``funnelflow.ingest.rows``), for files by the worker process, off
the database's critical path. ``apply_batch`` then resolves and upserts the
people, inserts the touchpoints, consents and suppressions, and returns the
counts; nothing is read back row by row. Filling only blanks is how "never
overwrite better data with worse" is kept. The caller owns the transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from funnelflow import consent, sql, suppressions
from funnelflow.db.helpers import copy_binary, copy_binary_data, is_postgres
from funnelflow.ingest.rows import (
    ARRIVAL_COLUMNS,
    ARRIVAL_TYPES,
    COMPANY_COLUMNS,
    COMPANY_TYPES,
    PEOPLE_COLUMNS,
    PEOPLE_TYPES,
    stage_time,
)
from funnelflow.ingest.timing import timed

__all__ = [
    "ARRIVAL_COLUMNS",
    "PEOPLE_COLUMNS",
    "Arrival",
    "BatchResult",
    "apply_batch",
    "batch_outcomes",
    "StageData",
    "load_people",
    "load_stage",
    "start_batch",
]

# The statements are in include/sql/ingest/ (``python -m funnelflow sql list``); the consents and
# suppressions a batch brings are written by their owners (funnelflow.consent, funnelflow.suppressions).
STAGE_TABLES = ("ingest_people", "ingest_arrivals", "ingest_resolved")
# PostgreSQL only: every staged person (see load_people).
ALL_PEOPLE = "ingest_all_people"
# The tables load_stage fills, with their columns and their types (the stage, and company facts' own, which
# funnelflow.ingest.company creates).
STAGE_LAYOUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ingest_people": (PEOPLE_COLUMNS, PEOPLE_TYPES),
    ALL_PEOPLE: (PEOPLE_COLUMNS, PEOPLE_TYPES),
    "ingest_arrivals": (ARRIVAL_COLUMNS, ARRIVAL_TYPES),
    "ingest_company": (COMPANY_COLUMNS, COMPANY_TYPES),
}
# Stage rows in column order, or (PostgreSQL) COPY's binary data of such rows.
StageData = bytes | Sequence[Sequence[Any]]
_RESOLVE = ("ingest/resolve_by_email", "ingest/resolve_by_phone", "ingest/resolve_by_external_id")


@dataclass(frozen=True)
class Arrival:
    """What every row of one batch shares: where it came from and how it counts."""

    source: str
    channel: str  # schema.CHANNELS
    touch_type: str  # schema.TOUCH_TYPES
    campaign: str | None = None
    consent_status: str | None = None  # the source's default when no column says
    legal_basis: str | None = None
    wording_version: str | None = None
    consent_always: bool = False  # web-form opt-ins are appended even when a status exists
    source_file: str | None = None


@dataclass
class BatchResult:
    inserted: int = 0
    updated: int = 0
    unresolved: list[int] = field(default_factory=list)  # positions of arrivals no single lead could take


def start_batch(conn: Connection) -> None:
    """Create the stage tables (and the view of resolved people) for this connection if needed,
    and empty them."""
    dialect = conn.dialect.name
    for name in (
        "create_stage_people",
        "create_stage_arrivals",
        "create_stage_resolved",
        "create_people_resolved",
    ):
        conn.execute(sql.load(f"ingest/{name}", dialect))
    if is_postgres(conn):  # no dead rows piling up batch after batch
        conn.execute(sql.load("ingest/create_stage_all_people", dialect))
        conn.execute(sql.load("ingest/empty_stage", dialect))
    else:
        for table in STAGE_TABLES:
            conn.execute(sa.table(table).delete())


def load_people(conn: Connection, data: StageData) -> None:
    """Stage the batch's people (``PEOPLE_COLUMNS``; see ``load_stage`` for ``data``).

    PostgreSQL copies them into ``ingest_all_people``, which the email upsert reads, and puts those
    without an email key aside into ``ingest_people``: the lookups by phone or the source's id, which
    run statement after statement, then scan those few instead of everyone. SQLite keeps everyone in
    ``ingest_people``.
    """
    pg = is_postgres(conn)
    load_stage(conn, ALL_PEOPLE if pg else "ingest_people", data)
    if pg:
        conn.execute(sql.load("ingest/set_aside_people", "postgresql"))


def load_stage(conn: Connection, table: str, data: StageData) -> None:
    """Fill a stage table (``STAGE_LAYOUTS``) from rows in its column order, or on PostgreSQL from
    ``copy_binary_data`` of such rows (the file worker sends those, made off the database's path).

    PostgreSQL copies them in binary (no text for the server to parse); SQLite inserts them with
    executemany. On both an empty string is NULL (a blank). Values are data, never SQL: the table and
    column names are ours.
    """
    if table not in STAGE_LAYOUTS:
        raise ValueError(f"not a stage table: {table!r}")
    if not data:
        return
    columns, types = STAGE_LAYOUTS[table]
    if is_postgres(conn):
        copy_binary(conn, table, columns, data if isinstance(data, bytes) else copy_binary_data(data, types))
        return
    if isinstance(data, bytes):
        raise TypeError("COPY's binary data is for PostgreSQL; SQLite takes the rows")
    placeholders = ", ".join("?" for _ in columns)
    conn.connection.driver_connection.cursor().executemany(
        f"insert into {table} ({', '.join(columns)}) values ({placeholders})",  # noqa: S608 - names are ours
        [[None if value == "" else value for value in row] for row in data],
    )


def apply_batch(
    conn: Connection, arrival: Arrival, now: datetime, *, ref_prefix: str | None = None
) -> BatchResult:
    """Write the staged batch: leads, touchpoints, consents, suppressions; returns the counts.

    ``ref_prefix`` (files): arrivals without a ``source_ref`` get ``ref_prefix``
    plus their zero-padded line, and a detail naming ``arrival.source_file``
    and the line. Those refs are new (the file was claimed by its content
    hash), so the touchpoints skip the conflict check.
    """
    pg = is_postgres(conn)
    when = stage_time(now, pg)
    # People with an email key first (PostgreSQL: the upsert), then the rest, so a phone-only row can match a
    # lead an email row of the same batch has just created.
    groups = [False] if pg else [True, False]  # with_email
    with timed("upsert_leads"):
        if pg:
            conn.execute(sql.load("ingest/upsert_leads_by_email", "postgresql"), {"now": when})
        for with_email in groups:
            scope = {"with_email": with_email}
            # By email key for people with one, else by phone or the source's id (each lookup's own filter
            # excludes the other group: running it would only scan the stage).
            resolve = _RESOLVE[:1] if with_email else _RESOLVE[1:]
            for name in resolve:
                conn.execute(sql.load(name), scope)
            conn.execute(sql.load("ingest/mark_resolved"), {**scope, "is_new": False})
            conn.execute(sql.load("ingest/insert_new_leads"), {**scope, "now": when})
            for name in resolve:
                conn.execute(sql.load(name), scope)
            conn.execute(sql.load("ingest/mark_resolved"), {**scope, "is_new": True})
            conn.execute(sql.load("ingest/fill_known_leads"), {**scope, "now": when})
        if pg:  # every answer in the one narrow table the later statements join (ingest_people_resolved)
            conn.execute(sql.load("ingest/collect_resolved", "postgresql"))
    with timed("touchpoints"):
        _write_touches(conn, arrival, when, pg, ref_prefix)
    with timed("consents"):
        _write_consents(conn, arrival, when)
    resolved, unresolved, created = conn.execute(sql.load("ingest/count_batch", conn.dialect.name)).one()
    missing = list(conn.execute(sql.load("ingest/unresolved_arrivals")).scalars()) if unresolved else []
    return BatchResult(inserted=int(created), updated=int(resolved) - int(created), unresolved=missing)


def _write_touches(conn: Connection, arrival: Arrival, when: Any, pg: bool, ref_prefix: str | None) -> None:
    """One touchpoint per resolved arrival (a new file's refs are new on PostgreSQL: no conflict check)."""
    name = "ingest/insert_touchpoints_of_new_file" if ref_prefix and pg else "ingest/insert_touchpoints"
    conn.execute(
        sql.load(name, conn.dialect.name),
        {
            "channel": arrival.channel,
            "touch_type": arrival.touch_type,
            "source": arrival.source,
            "campaign": arrival.campaign,
            "now": when,
            "ref_prefix": ref_prefix,
            "file_json": json.dumps(arrival.source_file),
        },
    )


def _write_consents(conn: Connection, arrival: Arrival, when: Any) -> None:
    """Consents and do-not-email suppressions of the resolved arrivals, through their owners."""
    consent.record_from_arrivals(
        conn,
        source=arrival.source,
        wording_version=arrival.wording_version,
        always=arrival.consent_always,
        default_status=arrival.consent_status,
        default_basis=arrival.legal_basis,
    )
    detail = (
        f"'Do Not Email' in {arrival.source_file}"
        if arrival.source_file
        else f"'Do Not Email' from {arrival.source}"
    )
    suppressions.add_from_arrivals(conn, source=arrival.source, detail=detail[:500], now=when)


def batch_outcomes(conn: Connection) -> dict[int, str]:
    """Outcome per staged arrival position: inserted (first arrival of a lead this batch created),
    updated, rejected."""
    out: dict[int, str] = {}
    for pos, lead_id, _is_new, first_pos_of_lead, lead_created in conn.execute(
        sql.load("ingest/arrival_outcomes")
    ):
        if lead_id is None:
            out[pos] = "rejected"
        elif lead_created and pos == first_pos_of_lead:
            out[pos] = "inserted"
        else:
            out[pos] = "updated"
    return out
