"""Writing validated arrivals: the counts every source reports, and the path for small batches.

Files stream through the worker straight into the stage
(``funnelflow.ingest.files``); the web form, ad platforms and replays hand
``write_arrivals`` a normalized frame, which is staged the same way and
written by the same set-based SQL (``funnelflow.ingest.stage``). Rejects keep
the raw row exactly as it arrived.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from funnelflow.db import schema
from funnelflow.db.helpers import copy_binary, copy_binary_data, is_postgres
from funnelflow.identity import hash_key
from funnelflow.ingest.company import write_company_facts
from funnelflow.ingest.rows import (
    ARRIVAL_COLUMNS,
    COMPANY_FACTS,
    PEOPLE_COLUMNS,
    collapse_company,
    collapse_people,
    stage_time,
)
from funnelflow.ingest.stage import Arrival, apply_batch, batch_outcomes, load_people, load_stage, start_batch

__all__ = ["AccountingError", "Arrival", "Counts", "write_arrivals", "write_rejects"]

REJECT_COLUMNS = ("source", "source_file", "line_number", "reason", "raw", "received_at")
REJECT_TYPES = ("text", "text", "int4", "text", "jsonb", "timestamptz")


class AccountingError(RuntimeError):
    """Rows in did not equal inserted + updated + rejected + duplicates:
    something was lost or counted twice."""


@dataclass
class Counts:
    rows_in: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: int = 0
    duplicates: int = 0

    def add(self, other: Counts) -> None:
        for key, value in asdict(other).items():
            setattr(self, key, getattr(self, key) + value)

    def count(self, outcome: str, n: int = 1) -> None:
        attr = "duplicates" if outcome == "duplicate" else outcome
        setattr(self, attr, getattr(self, attr) + n)

    @property
    def arrived(self) -> int:
        return self.inserted + self.updated

    def check(self, what: str) -> None:
        total = self.inserted + self.updated + self.rejected + self.duplicates
        if total != self.rows_in:
            raise AccountingError(
                f"{what}: {self.rows_in} rows in but inserted {self.inserted} + updated {self.updated} + "
                f"rejected {self.rejected} + duplicates {self.duplicates} = {total}"
            )

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _column(rows: pd.DataFrame, name: str) -> list[Any]:
    if name not in rows.columns:
        return [None] * len(rows)
    series = rows[name]
    return series.astype(object).where(series.notna(), None).tolist()


def write_arrivals(conn: Connection, rows: pd.DataFrame, arrival: Arrival, now: datetime) -> pd.Series:
    """Write validated rows (normalized frame plus ``source_ref``, ``detail`` and optional ``client_ip``).

    Returns the outcome per row: ``inserted`` for the first row that created a
    person, ``updated`` for every other row that reached a person, ``rejected``
    for a row whose person could not be resolved.
    """
    if rows.empty:
        return pd.Series(dtype=object)
    postgres = is_postgres(conn)
    positions = list(range(len(rows)))
    times = [stage_time(t.to_pydatetime(), postgres) for t in pd.to_datetime(rows["occurred_at"], utc=True)]
    person = {name: _column(rows, name) for name in PEOPLE_COLUMNS[:14]}
    people = [
        [*(person[name][i] for name in PEOPLE_COLUMNS[:14]), times[i], times[i], 1, i] for i in positions
    ]
    dne = _column(rows, "do_not_email")
    keys = person["email_key"]
    values = {name: _column(rows, name) for name in ARRIVAL_COLUMNS}
    arrivals = [
        (
            i,
            person["match_key"][i],
            times[i],
            *(values[name][i] for name in ARRIVAL_COLUMNS[3:15]),
            hash_key(keys[i]) if dne[i] and keys[i] else None,
        )
        for i in positions
    ]
    facts = {name: _column(rows, name) for name in COMPANY_FACTS}
    for name in ("employee_count", "annual_revenue"):  # whole numbers, even if a frame made them floats
        facts[name] = [None if v is None else int(v) for v in facts[name]]
    company = [
        [person["match_key"][i], *(facts[name][i] for name in COMPANY_FACTS)]
        for i in positions
        if any(facts[name][i] is not None for name in COMPANY_FACTS)
    ]
    start_batch(conn)
    load_people(conn, collapse_people(people))
    load_stage(conn, "ingest_arrivals", arrivals)
    apply_batch(conn, arrival, now)
    write_company_facts(conn, collapse_company(company), arrival.source)
    outcome = batch_outcomes(conn)
    return pd.Series([outcome[i] for i in positions], index=rows.index, dtype=object)


def write_rejects(
    conn: Connection,
    source: str,
    source_file: str | None,
    rejects: list[tuple[int | None, str, dict]],
    now: datetime,
) -> None:
    """Set rows aside with their reason and the raw row exactly as it arrived (on PostgreSQL by COPY:
    a file can bring tens of thousands)."""
    if not rejects:
        return
    if is_postgres(conn):
        rows = [(source, source_file, line, reason[:500], raw, now) for line, reason, raw in rejects]
        copy_binary(conn, "ingest_rejects", REJECT_COLUMNS, copy_binary_data(rows, REJECT_TYPES))
        return
    conn.execute(
        schema.ingest_rejects.insert(),
        [
            {
                "source": source,
                "source_file": source_file,
                "line_number": line,
                "reason": reason[:500],
                "raw": raw,
                "received_at": now,
            }
            for line, reason, raw in rejects
        ],
    )
