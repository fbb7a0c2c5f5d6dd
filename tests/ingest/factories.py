"""Ingestion test helpers: run the inbox of a test's config folder at AS_OF; a file worker's job."""

from __future__ import annotations

from pathlib import Path

import fsspec
import sqlalchemy as sa

from funnelflow.ingest.config import load_header_mapping, load_sources
from funnelflow.ingest.files import ingest_inbox
from funnelflow.ingest.worker import FileJob
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


def file_job(data: bytes, **overrides) -> FileJob:
    """The worker's job for ``data``, a UTF-8 CSV of the list-upload source (campaign "spring")."""
    values = dict(
        facts={
            "content_hash": "0" * 64,
            "size": len(data),
            "kind": "csv",
            "encoding": "utf-8",
            "delimiter": ",",
        },
        chunk_rows=1000,
        as_of="2026-11-23T12:00:00+00:00",
        source="list-upload",
        campaign="spring",
        extra_aliases={},
        ignore=[],
        postgres=True,
    )
    return FileJob(**{**values, **overrides})
