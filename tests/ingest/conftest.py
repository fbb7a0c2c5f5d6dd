"""Helpers for the ingestion tests: a config folder, an inbox on the local filesystem, table reads."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import fsspec
import pytest
import sqlalchemy as sa

from funnelflow.ingest.config import load_header_mapping, load_sources
from funnelflow.ingest.files import ingest_inbox

REPO = Path(__file__).resolve().parents[2]
AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A copy of the shipped config with no extra header aliases (tests add their own)."""
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(REPO / "config" / "sources.yaml", folder / "sources.yaml")
    (folder / "header_mapping.yaml").write_text("aliases: {}\n", encoding="utf-8")
    return folder


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox" / "leads"
    folder.mkdir(parents=True)
    return folder


def run_inbox(engine: sa.Engine, inbox: Path, config_dir: Path, chunk_rows: int = 1000):
    return ingest_inbox(
        engine,
        fsspec.filesystem("file"),
        str(inbox),
        load_sources(config_dir),
        load_header_mapping(config_dir),
        AS_OF,
        chunk_rows=chunk_rows,
    )


def rows(engine: sa.Engine, sql: str, **params) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]


def count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"select count(*) from {table}")).scalar_one()
