"""The DAG factory's cheap parse: campaign outlines cached by file times, validated again on any change."""

from __future__ import annotations

import os

import pytest

from funnelflow.campaigns import outline
from funnelflow.campaigns.config import load_campaign
from tests.campaigns.factories import NEWSLETTER, write_campaign


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("FUNNELFLOW_HOME", str(tmp_path / "home"))
    write_campaign(tmp_path / "campaigns")
    (tmp_path / "campaigns" / "broken.yaml").write_text("name: [unclosed\n")
    return tmp_path / "campaigns"


def _validations(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = outline._compute

    def counting(folder):
        calls.append(1)
        return real(folder)

    monkeypatch.setattr(outline, "_compute", counting)
    return calls


def test_outlines_say_what_the_files_say_and_name_the_broken_one(folder):
    good, bad = outline.outlines(folder)
    campaign = load_campaign(folder / "test-news.yaml")
    assert good == [outline.outline_of(campaign)]
    [o] = good
    assert (o.slug, o.cron, o.timezone, o.markdown) == (
        "test-news",
        "0 9 * * TUE",
        "Europe/Berlin",
        "test-news.md",
    )
    assert o.ab_test == {"share": 0.5, "wait_hours": 1.0, "metric": "clicks", "min_per_variant": 2}
    assert o.offer == {"limit": 3, "expires_at": "2099-12-31T23:59:00+01:00"}
    assert list(bad) == ["broken"] and "broken.yaml, line" in bad["broken"]


def test_an_unchanged_folder_is_read_back_without_validating(folder, monkeypatch):
    first = outline.outlines(folder)
    calls = _validations(monkeypatch)
    assert outline.outlines(folder) == first
    assert calls == []


def test_any_change_validates_again(folder, monkeypatch):
    outline.outlines(folder)
    calls = _validations(monkeypatch)
    path = folder / "test-news.yaml"
    path.write_text(NEWSLETTER.replace("Test newsletter", "Renamed newsletter"))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    good, _ = outline.outlines(folder)
    assert calls == [1] and good[0].name == "Renamed newsletter"
    (folder / "test-news.md").unlink()  # the Markdown beside it counts too
    good, bad = outline.outlines(folder)
    assert calls == [1, 1] and good == [] and "not found beside the campaign file" in bad["test-news"]


def test_a_damaged_cache_or_no_home_still_gives_the_outlines(folder, monkeypatch, tmp_path):
    expected = outline.outlines(folder)
    [cache] = (tmp_path / "home" / "cache").glob("campaign_outlines-*.json")
    cache.write_text('{"key": [1, "half')
    assert outline.outlines(folder) == expected
    monkeypatch.setattr(outline, "_cache_file", lambda folder: None)
    calls = _validations(monkeypatch)
    assert outline.outlines(folder) == expected and calls == [1]
