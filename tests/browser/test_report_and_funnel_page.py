"""The weekly report's HTML and the Funnel page in a real browser.

The report is built by funnelflow's own report code from a small funnel into a temporary
FUNNELFLOW_HOME and opened from disk (``file://``), as a stakeholder opens the saved
file: every chart must load. The Funnel page app is served alone with Airflow's login
stood in for (the running stack's own login is tested by tests/stack/test_ui_browser.py).
"""

from __future__ import annotations

import pytest

from funnelflow.metrics.report import build_report, save_report
from funnelflow.metrics.weeks import Week
from tests.browser_support import (
    PHONE_WIDTH,
    chromium,
    readability_problems,
    screenshot,
    serve,
    visible_text,
)
from tests.metrics.helpers import add_lead, add_stage, add_touch, at, compute
from tests.overview_rows import AS_OF, fill, write_campaigns

pytestmark = pytest.mark.browser

IMAGES = """
return Array.from(document.images).map(img => ({
  src: img.getAttribute('src'), complete: img.complete, width: img.naturalWidth
}));
"""


def _small_funnel(engine) -> Week:
    with engine.begin() as conn:
        for lead_id in (1, 2, 3, 4):
            add_lead(conn, lead_id)
        add_touch(conn, 1, at(16), "web_form", campaign="spring")
        add_touch(conn, 2, at(17), "ad_form")
        add_touch(conn, 3, at(9), "webinar", touch_type="webinar_attended")
        add_touch(conn, 4, at(18), "email", touch_type="email_click", campaign="spring")
        add_stage(conn, 1, "mql", at(17))
        add_stage(conn, 1, "sql", at(18))
        add_stage(conn, 3, "mql", at(10))
        add_stage(conn, 3, "sql", at(19))
    return compute(engine)


def test_the_saved_weekly_report_opens_from_disk_with_every_chart(db, funnelflow_home):
    week = _small_funnel(db)
    folder = save_report(build_report(db, week), ["team@example.org"])
    assert folder == funnelflow_home / "reports" / week.iso
    with chromium() as browser:
        browser.get((folder / "report.html").as_uri())
        images = browser.execute_script(IMAGES)
        screenshot(browser, "weekly-report")
    assert len(images) >= 4, images  # the funnel, the trend, SQLs by channel, attribution
    broken = [i["src"] for i in images if not (i["complete"] and i["width"] > 0)]
    assert broken == [], f"charts that did not load: {broken}"


def test_a_report_with_a_missing_chart_is_caught(db, funnelflow_home):
    """The check above can fail: a chart file gone from the folder shows as not loaded."""
    folder = save_report(build_report(db, _small_funnel(db)), [])
    (folder / "trend.png").unlink()
    with chromium() as browser:
        browser.get((folder / "report.html").as_uri())
        images = browser.execute_script(IMAGES)
    assert [i["src"] for i in images if i["width"] == 0] == ["trend.png"]


@pytest.fixture
def funnel_page(db, funnelflow_home, tmp_path, monkeypatch):
    """The Funnel page app on the test database (AS_OF's funnel), Airflow's login stood in for."""
    from airflow.api_fastapi.core_api.security import get_user

    from funnelflow_airflow.funnel_page import create_funnel_page_app

    monkeypatch.setenv("AIRFLOW_CONN_MARKETING_DB", db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("FUNNELFLOW_CONFIG_DIR", str(tmp_path / "config"))
    write_campaigns(tmp_path / "config")
    fill(db, funnelflow_home)
    save_report(build_report(db, Week.parse("2026-W48")), [])  # the real report of the newest week

    class _User:
        def get_name(self) -> str:
            return "ops-person"

    logged_in = create_funnel_page_app(clock=lambda: AS_OF)
    logged_in.dependency_overrides[get_user] = _User
    with serve(logged_in) as url, serve(create_funnel_page_app(clock=lambda: AS_OF)) as anonymous:
        yield url, anonymous


def test_the_funnel_page_logged_in_on_a_desk_and_a_phone_and_its_report_link(funnel_page):
    url, _ = funnel_page
    with chromium() as browser:
        browser.get(f"{url}/")
        text = visible_text(browser)
        for heading in (
            "Weekly report",
            "Campaigns",
            "Upcoming webinars",
            "Sales queue SLA",
            "Leads by stage",
        ):
            assert heading in text
        assert "Week 2026-W48" in text and "Weekly news" in text and "Webinar dec-demo" in text
        screenshot(browser, "funnel-page-desk")
        browser.find_element("link text", "open the report").click()
        browser.switch_to.window(browser.window_handles[-1])  # the report opens in its own tab
        assert browser.current_url == f"{url}/reports/2026-W48/report.html"
        images = browser.execute_script(IMAGES)
        assert len(images) >= 4 and all(i["complete"] and i["width"] > 0 for i in images), images
        screenshot(browser, "funnel-page-report")
    with chromium(width=PHONE_WIDTH, height=812) as browser:
        browser.get(f"{url}/")
        assert readability_problems(browser) == []
        screenshot(browser, "funnel-page-375")


def test_the_funnel_page_and_its_report_refuse_without_airflow_login(funnel_page):
    _, anonymous = funnel_page
    with chromium() as browser:
        for path in ("/", "/reports/2026-W48/report.html"):
            browser.get(f"{anonymous}{path}")
            text = visible_text(browser)
            assert "Log in to Airflow first" in text and "Leads by stage" not in text
            assert "New leads" not in text
        screenshot(browser, "funnel-page-refused")
