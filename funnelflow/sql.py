"""SQL analysts can read, loaded by name from ``include/sql/``.

``load("metrics/funnel_weekly")`` returns the text of ``include/sql/metrics/funnel_weekly.sql``.
With a dialect, ``<name>.<dialect>.sql`` (``postgresql`` or ``sqlite``) is preferred when it
exists: variants sit side by side only where the two databases really differ. Values are
always bound parameters (``:name``), never formatted into the text.
"""

from __future__ import annotations

import functools
from pathlib import Path

from funnelflow import settings

SQL_DIR = settings.REPO_ROOT / "include" / "sql"


class SqlFileNotFound(FileNotFoundError):
    """No file of that name (and dialect) under include/sql."""


@functools.lru_cache(maxsize=128)
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def path_of(name: str, dialect: str | None = None) -> Path:
    """The file ``load`` would read: the dialect's variant first, then the shared one."""
    if ".." in Path(name).parts:
        raise ValueError(f"SQL name {name!r} must stay inside include/sql")
    candidates = ([SQL_DIR / f"{name}.{dialect}.sql"] if dialect else []) + [SQL_DIR / f"{name}.sql"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise SqlFileNotFound(f"no SQL file for {name!r}: looked for {', '.join(str(c) for c in candidates)}")


def load(name: str, dialect: str | None = None) -> str:
    """The text of ``include/sql/<name>.sql`` (or its ``<name>.<dialect>.sql`` variant)."""
    return _read(path_of(name, dialect))
