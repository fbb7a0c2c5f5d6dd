"""The SQL statements in ``include/sql/``, loaded by name.

A statement lives in ``include/sql/<area>/<what_it_does>.sql``; where PostgreSQL
and SQLite need different text, two files stand side by side:
``<what_it_does>.postgresql.sql`` and ``<what_it_does>.sqlite.sql``. Values are
always bound parameters (``:name``), never formatted into the text; a piece of
SQL that truly varies (a dialect, a temp table) is a choice between whole files.

``load("ingest/upsert_leads", conn.dialect.name)`` returns the (cached) statement;
``python -m funnelflow sql list`` lists them, ``sql show NAME`` prints one (``funnelflow.sql_cli``).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import sqlalchemy as sa

from funnelflow.settings import REPO_ROOT

SQL_ROOT = REPO_ROOT / "include" / "sql"
DIALECTS = ("postgresql", "sqlite")
_NAME = re.compile(r"^[a-z0-9_]+(/[a-z0-9_]+)*$")


class UnknownStatement(LookupError):
    """No file holds the statement of that name (for that dialect)."""


def path_of(name: str, dialect: str | None = None) -> Path:
    """The file of statement ``name``: the dialect's own when there is one, else the shared one."""
    if not _NAME.match(name):
        raise UnknownStatement(f"{name!r} is not a statement name (lower-case words and slashes, no suffix)")
    if dialect is not None and dialect not in DIALECTS:
        raise UnknownStatement(f"unknown dialect {dialect!r}; expected one of {DIALECTS}")
    candidates = ([SQL_ROOT / f"{name}.{dialect}.sql"] if dialect else []) + [SQL_ROOT / f"{name}.sql"]
    for path in candidates:
        if path.is_file():
            return path
    variants = ", ".join(sorted(p.name for p in SQL_ROOT.glob(f"{name}.*.sql")))
    hint = f" (there is {variants}: pass the dialect)" if variants else ""
    raise UnknownStatement(f"no SQL file for {name!r} under {SQL_ROOT}{hint}")


@functools.cache
def source(name: str, dialect: str | None = None) -> str:
    """The text of statement ``name`` as it stands in its file."""
    return path_of(name, dialect).read_text(encoding="utf-8")


@functools.cache
def load(name: str, dialect: str | None = None) -> sa.TextClause:
    """Statement ``name`` for ``dialect`` as a SQLAlchemy text clause (parameters bound at execution)."""
    return sa.text(source(name, dialect))


def names() -> list[str]:
    """Every statement, as ``name`` or ``name [postgresql, sqlite]`` where the dialects differ."""
    variants: dict[str, list[str]] = {}
    for path in sorted(SQL_ROOT.rglob("*.sql")):
        rel = path.relative_to(SQL_ROOT).as_posix()[: -len(".sql")]
        base, _, dialect = rel.rpartition(".")
        if base and dialect in DIALECTS:
            variants.setdefault(base, []).append(dialect)
        else:
            variants.setdefault(rel, [])
    return [f"{n} [{', '.join(d)}]" if d else n for n, d in sorted(variants.items())]
