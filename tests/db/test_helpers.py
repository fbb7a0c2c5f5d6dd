"""The shared database helpers: chunking, the read-ahead thread, COPY's CSV text, insert-ignore."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from funnelflow.db.helpers import (
    chunks,
    copy_binary,
    copy_binary_data,
    csv_text,
    insert_ignore,
    is_postgres,
    member_of,
    read_ahead,
)
from funnelflow.db.schema import ingest_files, utcnow


def test_chunks_split_sequences_and_streams_in_order():
    assert list(chunks([1, 2, 3, 4, 5], 2)) == [[1, 2], [3, 4], [5]]
    assert list(chunks(iter(range(4)), 2)) == [[0, 1], [2, 3]]
    assert list(chunks([], 3)) == []
    with pytest.raises(ValueError):
        list(chunks([1], 0))


def test_csv_text_writes_none_as_copys_null():
    assert csv_text([(1, None, "a,b"), (2, None, 'x"y')]) == '1,,"a,b"\n2,,"x""y"\n'


def test_copy_binary_data_loads_every_type_and_reads_blanks_as_null(engine):
    if not is_postgres(engine):
        pytest.skip("COPY's binary format is PostgreSQL's")
    at = datetime(2026, 11, 23, 12, 34, 56, 789012, tzinfo=timezone(timedelta(hours=2)))
    rows = [
        ['Åberg, "quoted"\n', "", 1, -5, 2**40, True, at, {"a": [1, "é"]}],
        [None, None, None, None, None, False, None, None],
    ]
    types = ["text", "text", "int4", "int4", "int8", "bool", "timestamptz", "jsonb"]
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "create temporary table copied (a varchar(40), b text, c integer, d integer, e bigint, "
                "f boolean, g timestamptz, h jsonb)"
            )
        )
        copy_binary(conn, "copied", list("abcdefgh"), copy_binary_data(rows, types))
        got = [tuple(r) for r in conn.execute(sa.text("select * from copied order by c nulls last"))]
    assert got == [
        ('Åberg, "quoted"\n', None, 1, -5, 2**40, True, at, {"a": [1, "é"]}),
        (None, None, None, None, None, False, None, None),
    ]
    with pytest.raises(TypeError):  # a naive time names no instant
        copy_binary_data([[datetime(2026, 1, 1)]], ["timestamptz"])
    with pytest.raises(ValueError):  # a row that does not fit the columns
        copy_binary_data([[1, 2]], ["int4"])


def test_read_ahead_yields_everything_and_raises_the_producers_error():
    assert list(read_ahead(iter(range(10)), depth=2)) == list(range(10))

    def failing():
        yield 1
        raise RuntimeError("disk full")

    items = read_ahead(failing())
    assert next(items) == 1
    with pytest.raises(RuntimeError, match="disk full"):
        next(items)


def test_read_ahead_stops_its_thread_and_closes_the_source_when_the_consumer_stops():
    closed = threading.Event()

    def endless():
        n = 0
        try:
            while True:
                n += 1
                yield n
        finally:
            closed.set()

    before = threading.active_count()
    items = read_ahead(endless())
    assert next(items) == 1
    items.close()  # what a failed COPY does to the loop
    assert threading.active_count() == before
    assert closed.is_set()


def test_insert_ignore_and_member_of_on_both_backends(engine):
    row = {
        "content_hash": "h" * 64,
        "file_name": "a.csv",
        "status": "claimed",
        "claim_token": "t",
        "claimed_at": utcnow(),
    }
    with engine.begin() as conn:
        assert insert_ignore(conn, ingest_files, row) == 1
        assert insert_ignore(conn, ingest_files, row) == 0
        found = conn.execute(
            sa.select(sa.func.count())
            .select_from(ingest_files)
            .where(member_of(conn, ingest_files.c.content_hash, ["h" * 64, "x"]))
        ).scalar_one()
        assert found == 1
        assert is_postgres(conn) == (engine.dialect.name == "postgresql")
