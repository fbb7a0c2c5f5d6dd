"""Fixtures for the ingestion tests: a config folder, an inbox on the local filesystem.

Helpers are in tests/ingest/factories.py and tests/factories.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.factories import REPO


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
