"""Ingestion test helpers: run the inbox of a test's config folder at AS_OF."""

from __future__ import annotations

from pathlib import Path

import fsspec
import sqlalchemy as sa

from funnelflow.ingest.config import load_header_mapping, load_sources
from funnelflow.ingest.files import ingest_inbox
from tests.factories import AS_OF


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
