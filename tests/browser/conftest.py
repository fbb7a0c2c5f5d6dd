"""Fixtures of the browser tests: a migrated SQLite marketing database and the public app serving it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from funnelflow.db.engine import make_engine
from funnelflow.web.app import create_standalone_app
from tests.browser_support import serve

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path: Path, migrated_templates: dict[str, str]):
    target = tmp_path / "marketing.db"
    shutil.copyfile(migrated_templates["sqlite"], target)
    engine = make_engine(f"sqlite:///{target}")
    yield engine
    engine.dispose()


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repo's config/ without webinars or campaigns; a test writes the ones it needs."""
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config, ignore=shutil.ignore_patterns("webinars", "campaigns"))
    (config / "webinars").mkdir()
    (config / "campaigns").mkdir()
    monkeypatch.setenv("FUNNELFLOW_CONFIG_DIR", str(config))
    return config


@pytest.fixture
def site(db, monkeypatch):
    monkeypatch.setenv("FUNNELFLOW_SECRET_KEY", "browser-test-key")
    with serve(create_standalone_app(db)) as url:
        yield url
