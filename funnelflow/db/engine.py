"""Engines for the marketing database, with the settings each backend needs."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from funnelflow.db.url import CONN_ID, redact, resolve_marketing_db_url

SQLITE_BUSY_TIMEOUT_MS = 30_000


class MarketingDbUnreachable(RuntimeError):
    """The marketing database cannot be reached; the message names the connection and hides the password."""


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets the public app write landing rows while a task reads; the busy
    # timeout makes a second writer wait instead of failing with "locked".
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str | URL | None = None, **kwargs) -> Engine:
    """An engine for the marketing database (default: resolved from the environment).

    Bound parameters never appear in SQLAlchemy's error messages or logs
    (``hide_parameters``): they are addresses and names, and errors end up in logs.
    """
    url = resolve_marketing_db_url() if url is None else make_url(str(url)) if isinstance(url, str) else url
    kwargs.setdefault("hide_parameters", True)
    if url.drivername.startswith("sqlite"):
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def check_reachable(engine: Engine) -> None:
    """Open one connection; a failure becomes one clear line naming the connection."""
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise MarketingDbUnreachable(
            f"cannot reach the {CONN_ID!r} connection at {redact(engine.url)}: {reason}"
        ) from None
