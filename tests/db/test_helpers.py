"""The shared database helpers: chunking, the read-ahead thread, COPY's CSV text, insert-ignore."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from funnelflow.db.helpers import chunks, csv_text, insert_ignore, is_postgres, member_of, read_ahead
from funnelflow.db.schema import ingest_files, utcnow


def test_chunks_split_sequences_and_streams_in_order():
    assert list(chunks([1, 2, 3, 4, 5], 2)) == [[1, 2], [3, 4], [5]]
    assert list(chunks(iter(range(4)), 2)) == [[0, 1], [2, 3]]
    assert list(chunks([], 3)) == []
    with pytest.raises(ValueError):
        list(chunks([1], 0))


def test_csv_text_writes_none_as_copys_null():
    assert csv_text([(1, None, "a,b"), (2, None, 'x"y')]) == '1,,"a,b"\n2,,"x""y"\n'


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
