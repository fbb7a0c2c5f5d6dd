"""Campaign files: the examples load; each mistake names the file, the line and the fix; one bad file hides
no other."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from funnelflow.campaigns.config import CampaignError, load_all, load_campaign
from funnelflow.cli import main
from funnelflow.settings import REPO_ROOT

EXAMPLES = REPO_ROOT / "config" / "campaigns"


def test_the_example_campaigns_are_valid():
    good, bad = load_all(EXAMPLES)
    assert bad == {}
    by_slug = {c.slug: c for c in good}
    news = by_slug["december-newsletter"]
    assert news.variants == ("a", "b") and news.spec.ab_test.share == 0.2
    assert news.spec.offer.limit == 200 and news.markdown_path.is_file()
    assert by_slug["webinar-followup"].variants == ("a",)


def _copy(tmp_path: Path, slug: str = "december-newsletter", name: str | None = None) -> Path:
    shutil.copy(EXAMPLES / f"{slug}.md", tmp_path / f"{slug}.md")
    target = tmp_path / f"{name or slug}.yaml"
    shutil.copy(EXAMPLES / f"{slug}.yaml", target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "needle", "says"),
    [
        ("share: 0.2", "share: 0.7", "ab_test:", "ab_test.share: Input should be less than or equal to 0.5"),
        ("- fit_grade: [A, B]", "- fit_grad: [A, B]", "fit_grad:", "audience.all.1.fit_grad: Extra inputs"),
        ("timezone: Europe/Berlin}", "timezone: Europe/Berlim}", "schedule:", "unknown time zone"),
        ('b: "{{ first_name }}, five', 'b: "{{ email }}, five', 'a: "What shipped', "a subject may use only"),
        ("limit: 200}", "limit: 0}", "offer:", "offer.limit: Input should be greater than or equal to 1"),
        ("markdown: december-newsletter.md", "markdown: missing.md", "content:", "not found beside"),
    ],
)
def test_a_mistake_names_file_line_and_fix(tmp_path, old, new, needle, says):
    path = _copy(tmp_path)
    _edit(path, old, new)
    with pytest.raises(CampaignError) as err:
        load_campaign(path)
    message = str(err.value)
    assert f"december-newsletter.yaml, line {_line_of(path, needle)}: " in message
    assert says in message and "fix: " in message


def test_two_subjects_need_an_ab_test(tmp_path):
    path = _copy(tmp_path)
    _edit(path, "ab_test: {share: 0.2, wait_hours: 4, metric: clicks, min_per_variant: 500}\n", "")
    with pytest.raises(CampaignError, match="two subjects need an ab_test"):
        load_campaign(path)


def test_a_broken_file_beside_good_ones_hides_nothing(tmp_path, monkeypatch, capsys):
    _copy(tmp_path)
    _copy(tmp_path, "webinar-followup")
    broken = _copy(tmp_path, "webinar-followup", name="broken-one")
    _edit(broken, "schedule: {once:", "schedule: {every:")
    good, bad = load_all(tmp_path)
    assert [c.slug for c in good] == ["december-newsletter", "webinar-followup"]
    assert list(bad) == ["broken-one"] and "schedule.every" in bad["broken-one"]
    (tmp_path / "campaigns").mkdir()
    for p in tmp_path.glob("*.*"):
        shutil.move(p, tmp_path / "campaigns" / p.name)
    monkeypatch.setenv("FUNNELFLOW_CONFIG_DIR", str(tmp_path))
    assert main(["campaigns", "check"]) == 1
    out = capsys.readouterr().out
    assert "ok    december-newsletter" in out and "error broken-one" in out and "line 6" in out


def test_send_window_moves_the_send_and_the_decision_into_local_hours(tmp_path):
    from datetime import UTC, datetime

    from funnelflow.campaigns.config import next_send_time, send_plan

    campaign = load_campaign(_copy(tmp_path))  # window 08:00-18:00 Europe/Berlin, wait 4 h
    inside = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)  # 09:00 in Berlin
    assert next_send_time(campaign, inside) == inside
    early = datetime(2026, 12, 8, 5, 0, tzinfo=UTC)  # 06:00 in Berlin: wait for 08:00 the same day
    assert next_send_time(campaign, early) == datetime(2026, 12, 8, 7, 0, tzinfo=UTC)
    late = datetime(2026, 12, 8, 17, 30, tzinfo=UTC)  # 18:30 in Berlin: 08:00 the next day
    assert next_send_time(campaign, late) == datetime(2026, 12, 9, 7, 0, tzinfo=UTC)
    plan = send_plan(campaign, datetime(2026, 12, 8, 15, 0, tzinfo=UTC))  # 16:00 + 4 h = 20:00: next morning
    assert plan == {"send_at": "2026-12-08T15:00:00+00:00", "decide_at": "2026-12-09T07:00:00+00:00"}
    assert send_plan(campaign, inside, wait_hours=0.5)["decide_at"] == "2026-12-08T08:30:00+00:00"
