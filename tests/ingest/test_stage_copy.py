"""The stage on PostgreSQL is filled by COPY's binary format: what the worker sends loads as its rows."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from funnelflow.ingest.rows import ARRIVAL_COLUMNS, PEOPLE_COLUMNS
from funnelflow.ingest.stage import ALL_PEOPLE, load_stage, start_batch
from tests.ingest.factories import file_job

CSV = (
    "Email,First Name,Last Name,Phone,Country,Date,utm_source,Do Not Email\n"
    "Åsa@Example.com,Åsa,Öberg,030 1234567,DE,2026-11-20 09:15:30,linkedin,\n"
    "åsa@example.com,,,,,2026-11-21 10:00:00,,yes\n"  # the same person again: one person, two arrivals
    ",Ed,,+44 20 7946 0958,GB,,,\n"  # no email: a phone-only person
)


def _chunk(postgres: bool) -> tuple:
    data = CSV.encode()
    [chunk] = [m for m in file_job(data, postgres=postgres).run(io.BytesIO(data)) if m[0] == "chunk"]
    return chunk


def _as_stage_text(value):
    """SQLite's stage holds times as text; PostgreSQL's as times: compare them as the same instant."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


@pytest.mark.postgres
def test_the_workers_binary_chunk_loads_as_the_rows_it_stands_for(backend, engine):
    if backend != "postgresql":
        pytest.skip("COPY's binary format is PostgreSQL's")
    _, _, _, _, people_data, arrivals_data, _ = _chunk(postgres=True)
    _, _, _, _, people_rows, arrival_rows, _ = _chunk(postgres=False)
    assert isinstance(people_data, bytes) and isinstance(arrivals_data, bytes)
    with engine.begin() as conn:
        start_batch(conn)
        load_stage(conn, ALL_PEOPLE, people_data)
        load_stage(conn, "ingest_arrivals", arrivals_data)
        people = conn.execute(sa.text(f"select {', '.join(PEOPLE_COLUMNS)} from {ALL_PEOPLE}")).all()
        arrivals = conn.execute(sa.text(f"select {', '.join(ARRIVAL_COLUMNS)} from ingest_arrivals")).all()
    assert sorted([_as_stage_text(v) for v in row] for row in people) == sorted(people_rows)
    loaded_arrivals = sorted([_as_stage_text(v) for v in row] for row in arrivals)
    assert loaded_arrivals == sorted(list(r) for r in arrival_rows)
    assert len(people) == 2 and len(arrivals) == 3


def test_stage_rows_load_on_either_backend_and_blanks_are_null(engine):
    """Rows from Python (web forms, ad platforms) take the same path: an empty string is a blank."""
    at = datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=UTC)
    pg = engine.dialect.name == "postgresql"
    when = at if pg else at.strftime("%Y-%m-%d %H:%M:%S.%f")
    row = [
        "e:x@example.com",
        "x@example.com",
        "x@example.com",
        "example.com",
        "",
        "Ng",
        None,
        None,
        "",
        None,
        None,
        None,
        None,
        "form",
        when,
        when,
        1,
        0,
    ]
    with engine.begin() as conn:
        start_batch(conn)
        table = ALL_PEOPLE if pg else "ingest_people"
        load_stage(conn, table, [row])
        got = conn.execute(
            sa.text(f"select first_name, last_name, phone, arrivals, first_seen_at from {table}")
        ).one()
        with pytest.raises(ValueError, match="not a stage table"):
            load_stage(conn, "leads", [row])
    assert got[:4] == (None, "Ng", None, 1)
    assert _as_stage_text(got[4]) == at.strftime("%Y-%m-%d %H:%M:%S.%f")
