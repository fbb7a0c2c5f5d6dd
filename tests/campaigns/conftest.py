"""Campaign fixtures: the sending settings for every test here (the stand-in and clock are in
tests/conftest.py), and a campaign folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from funnelflow.campaigns.config import Campaign, load_campaign
from funnelflow.settings import REPO_ROOT

EXAMPLES = REPO_ROOT / "config" / "campaigns"

NEWSLETTER = """\
name: Test newsletter
description: A newsletter for the tests
owner: marketing-ops
schedule: {cron: "0 9 * * TUE", timezone: Europe/Berlin}
audience:
  all:
    - lifecycle_stage: [lead, mql]
content: {markdown: test-news.md}
subject: {a: "Plain subject", b: "{{ first_name }}, a personal subject"}
ab_test: {share: 0.5, wait_hours: 1, metric: clicks, min_per_variant: 2}
offer: {url: "https://example.com/offer", expires_at: "2099-12-31T23:59:00+01:00", limit: 3}
test_recipients: [team@example.com]
"""

MARKDOWN = """\
# News

[Read more](https://example.com/news "button")

[Claim it](offer:)
"""


def write_campaign(folder: Path, slug: str = "test-news", text: str = NEWSLETTER) -> Campaign:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test-news.md").write_text(MARKDOWN)
    (folder / f"{slug}.yaml").write_text(text)
    return load_campaign(folder / f"{slug}.yaml")


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
