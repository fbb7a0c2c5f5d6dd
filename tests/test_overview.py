"""``funnelflow.overview``: the funnel now, as the Funnel page and ``status`` show it, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from funnelflow.campaigns.config import Schedule
from funnelflow.overview import funnel_overview, next_run
from tests.overview_rows import AS_OF, fill, write_campaigns


@pytest.fixture
def overview(engine, funnelflow_home, tmp_path, monkeypatch):
    monkeypatch.setenv("FUNNELFLOW_CONFIG_DIR", str(tmp_path / "config"))
    write_campaigns(tmp_path / "config")
    fill(engine, funnelflow_home)
    return funnel_overview(engine, AS_OF)


def test_leads_and_sends(overview):
    stages = dict(overview["leads_by_stage"])
    assert stages["mql"] == 2 and stages["sql"] == 1 and stages["customer"] == 0  # the merged MQL is history
    sends = dict(overview["sends_by_status"])
    assert sends["delivered"] == 3 and sends["bounced"] == 1 and sends["claimed"] == 1


def test_the_latest_report_is_the_newest_whole_week(overview):
    r = overview["report"]
    assert r["week"] == "2026-W48"  # W49 is computed but not over on 1 December
    assert r["figures"] == {"new_leads": 12, "mql": 5, "sql": 2, "customer": 1}
    assert r["email"] == {"sent": 10, "unique_opens": 1, "unique_clicks": 2}
    assert r["file"] is True


def test_campaigns_next_run_and_last_results(overview):
    rows = {c["slug"]: c for c in overview["campaigns"]}
    assert [c["slug"] for c in overview["campaigns"]] == ["weekly-news", "broken", "old-once"]
    weekly = rows["weekly-news"]
    # Tuesday 1 December 11:00 in Berlin: the next Tuesday 09:00 Berlin is 8 December, 08:00 UTC.
    assert weekly["next_run"] == datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    last = weekly["last_run"]  # 24 November; the run of 8 December is after the as-of time
    assert last["as_of"] == datetime(2026, 11, 24, 8, 0, tzinfo=UTC) and last["status"] == "done"
    assert (last["audience"], last["sendable"]) == (4, 3)
    assert (last["sent"], last["delivered"], last["bounces"], last["opens"], last["clicks"]) == (
        3,
        2,
        1,
        1,
        1,
    )
    assert rows["old-once"]["next_run"] is None and rows["old-once"]["last_run"] is None
    assert rows["broken"]["error"] and "broken.yaml" in rows["broken"]["error"]


def test_upcoming_webinars_with_registrations(overview):
    [w] = overview["webinars"]  # the one over and the cancelled one are left out
    assert w["slug"] == "dec-demo"
    assert (w["registered"], w["waitlisted"], w["seats_taken"], w["capacity"]) == (1, 1, 1, 2)


def test_sales_queue_sla(overview):
    q = overview["queue"]
    assert (
        q["by_status"]["open"] == 4 and q["by_status"]["accepted"] == 1 and q["by_status"]["unassigned"] == 1
    )
    assert (q["open"], q["waiting"], q["due_soon"], q["breached"]) == (4, 3, 1, 1)
    assert q["oldest_breach_due_at"] == AS_OF - timedelta(hours=20)


def test_sla_moves_with_the_as_of_time(engine, funnelflow_home, tmp_path, monkeypatch):
    monkeypatch.setenv("FUNNELFLOW_CONFIG_DIR", str(tmp_path / "config"))
    write_campaigns(tmp_path / "config")
    fill(engine, funnelflow_home)
    later = funnel_overview(engine, AS_OF + timedelta(hours=5))["queue"]
    assert (later["due_soon"], later["breached"]) == (1, 2)  # due soon became breached; on track is due soon


def test_next_run_follows_the_zone_across_daylight_saving():
    weekly = Schedule(cron="0 9 * * TUE", timezone="Europe/Berlin")
    # 27 October 2026 is after the change to winter time: 09:00 Berlin is 08:00 UTC; before it 07:00 UTC.
    assert next_run(weekly, datetime(2026, 10, 21, tzinfo=UTC)) == datetime(2026, 10, 27, 8, tzinfo=UTC)
    assert next_run(weekly, datetime(2026, 10, 14, tzinfo=UTC)) == datetime(2026, 10, 20, 7, tzinfo=UTC)
    once = Schedule(once=datetime(2026, 12, 8, 9, tzinfo=UTC))
    assert next_run(once, datetime(2026, 12, 8, 8, tzinfo=UTC)) == datetime(2026, 12, 8, 9, tzinfo=UTC)
    assert next_run(once, datetime(2026, 12, 8, 9, tzinfo=UTC)) is None


def test_no_report_and_nothing_scheduled(engine, funnelflow_home, tmp_path):
    empty = tmp_path / "no-campaigns"
    empty.mkdir()
    o = funnel_overview(engine, AS_OF, campaigns_folder=empty)
    assert o["report"] is None and o["campaigns"] == [] and o["webinars"] == []
    assert o["queue"]["breached"] == 0 and o["queue"]["oldest_breach_due_at"] is None
    folder = funnelflow_home / "reports" / "2026-W40"
    folder.mkdir(parents=True)
    (folder / "report.html").write_text("<html></html>")
    assert funnel_overview(engine, AS_OF, campaigns_folder=empty)["report"] == {
        "week": "2026-W40",
        "period": None,
        "figures": None,
        "email": None,
        "file": True,
    }
