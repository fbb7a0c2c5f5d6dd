"""Campaign fixtures: the sending settings for every test here (the stand-in and clock are in
tests/conftest.py), and a campaign folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from funnelflow.campaigns.config import Campaign
from funnelflow.settings import REPO_ROOT
from tests.campaigns.factories import write_campaign

EXAMPLES = REPO_ROOT / "config" / "campaigns"


@pytest.fixture
def newsletter(tmp_path: Path) -> Campaign:
    return write_campaign(tmp_path / "campaigns")


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    target = tmp_path / "config" / "campaigns"
    shutil.copytree(EXAMPLES, target)
    return target


@pytest.fixture(autouse=True)
def _email_env(email_env) -> None:
    return None
