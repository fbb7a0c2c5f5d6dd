"""Small database helpers every module shares: one of each, so no module keeps its own copy.

- ``is_postgres``: which backend an engine or connection talks to.
- ``chunks``: a sequence or stream in lists of at most ``size`` (bind-parameter limits).
- ``member_of``: ``column IN values``, as one array parameter on PostgreSQL.
- ``dialect_insert``: an INSERT that supports ``on_conflict_do_nothing`` on either backend.
- ``csv_text`` / ``copy_csv``: rows as the CSV text PostgreSQL's COPY reads, and the COPY itself.
- ``copy_binary_data`` / ``copy_binary``: rows in COPY's binary format, and that COPY: the server takes
  numbers and times as they are instead of parsing text (the ingestion stage, a million rows a file).
- ``read_ahead``: consume an iterator in a thread, a few items ahead.

SQLAlchemy is imported inside the functions: the ingestion worker process imports
``csv_text`` and stays small.
"""

from __future__ import annotations

import csv
import io
import json
import queue
import struct
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import sqlalchemy as sa

T = TypeVar("T")


def is_postgres(bind: sa.Engine | sa.Connection) -> bool:
    """True when ``bind`` (an engine or a connection) talks to PostgreSQL; else it is SQLite."""
    return bind.dialect.name == "postgresql"


def chunks(items: Iterable[T], size: int = 1000) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``, in order (a sequence or a stream; nothing read ahead)."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def member_of(conn: sa.Connection, column: sa.ColumnElement, values: Sequence) -> sa.ColumnElement[bool]:
    """``column IN values``; on PostgreSQL as ``= ANY(array)``: one parameter instead of a thousand
    (parsing a thousand placeholders per query costs more than the query)."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql

    if is_postgres(conn):
        return column == sa.any_(sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(list(values))


def dialect_insert(conn: sa.Connection, table: sa.Table) -> Any:
    """``INSERT`` into ``table`` with the backend's ``on_conflict_do_nothing``/``on_conflict_do_update``."""
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql if is_postgres(conn) else sqlite).insert(table)


def insert_ignore(conn: sa.Connection, table: sa.Table, values: dict[str, Any]) -> int:
    """Insert one row unless a unique key already holds it: 1 when inserted, 0 when not
    (``table`` has ``id``)."""
    stmt = dialect_insert(conn, table).values(**values).on_conflict_do_nothing().returning(table.c.id)
    return int(conn.execute(stmt).first() is not None)


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """Rows as CSV for ``COPY ... (format csv)``: None is an unquoted empty field,
    which COPY reads as NULL."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def copy_csv(conn: sa.Connection, table: str, columns: Sequence[str], data: str) -> None:
    """PostgreSQL ``COPY table (columns) FROM STDIN`` of ``csv_text`` output. ``table`` and ``columns`` are
    our own identifiers, never input; the values travel as data, never as SQL."""
    _copy_from_stdin(conn, table, columns, "csv", data)


# COPY's binary format (PostgreSQL's "COPY ... BINARY"): a signature, flags and header extension, then per
# row the field count and each field as its length and its bytes in the type's send format (-1 is NULL).
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\0" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_NULL = struct.pack(">i", -1)
_pack_length = struct.Struct(">i").pack
_pack_int4 = struct.Struct(">ii").pack
_pack_int8 = struct.Struct(">iq").pack
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _text(value: Any) -> bytes:
    data = value.encode()
    return _pack_length(len(data)) + data


def _int4(value: Any) -> bytes:
    return _pack_int4(4, value)


def _int8(value: Any) -> bytes:
    return _pack_int8(8, value)


def _boolean(value: Any) -> bytes:
    return b"\0\0\0\1\1" if value else b"\0\0\0\1\0"


def _timestamptz(value: datetime) -> bytes:
    """Microseconds since 2000-01-01 UTC; ``value`` must carry its zone (a naive time has no instant)."""
    delta = value - _PG_EPOCH
    return _pack_int8(8, (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)


def _jsonb(value: Any) -> bytes:
    data = b"\1" + json.dumps(value).encode()  # jsonb's send format: version 1, then the JSON text
    return _pack_length(len(data)) + data


# A column's type, as COPY BINARY wants it: varchar and text alike are "text".
COPY_ENCODERS: dict[str, Callable[[Any], bytes]] = {
    "text": _text,
    "int4": _int4,
    "int8": _int8,
    "bool": _boolean,
    "timestamptz": _timestamptz,
    "jsonb": _jsonb,
}


def copy_binary_data(rows: Iterable[Sequence[Any]], types: Sequence[str]) -> bytes:
    """Rows as ``COPY ... (format binary)`` data; ``types`` names each column's type (``COPY_ENCODERS``).

    Plain Python, as cheap per row as ``csv_text``; the server then skips parsing text (a time or a
    number read from text costs it more than the row's copy). None and the empty string are NULL, as
    in ``csv_text``'s COPY.
    """
    encoders = [COPY_ENCODERS[name] for name in types]
    count = struct.pack(">h", len(encoders))
    parts = [_COPY_SIGNATURE]
    append, extend = parts.append, parts.extend
    for row in rows:
        append(count)
        extend([_NULL if v is None or v == "" else enc(v) for enc, v in zip(encoders, row, strict=True)])
    append(_COPY_TRAILER)
    return b"".join(parts)


def copy_binary(conn: sa.Connection, table: str, columns: Sequence[str], data: bytes) -> None:
    """PostgreSQL ``COPY table (columns) FROM STDIN (format binary)`` of ``copy_binary_data`` output.
    ``table`` and ``columns`` are our own identifiers, never input."""
    _copy_from_stdin(conn, table, columns, "binary", data)


def _copy_from_stdin(
    conn: sa.Connection, table: str, columns: Sequence[str], format_: str, data: str | bytes
) -> None:
    raw = conn.connection.driver_connection
    with (
        raw.cursor() as cur,
        cur.copy(f"copy {table} ({', '.join(columns)}) from stdin (format {format_})") as copy,
    ):
        copy.write(data)


def read_ahead(items: Iterator[T], depth: int = 2, name: str = "read-ahead") -> Iterator[T]:
    """Yield ``items``, produced in a thread up to ``depth`` ahead,
    so the producer never waits for the consumer.

    An error in the producer is raised in the consumer. When the consumer stops early,
    the producer stops too and ``items`` is closed (a generator's cleanup runs: a worker
    process behind it is ended), so no thread is left holding an item.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    close = getattr(items, "close", None)
                    if close is not None:
                        close()
                    return
            put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=10)
