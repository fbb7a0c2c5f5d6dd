"""The Airflow UI in a real browser against the running stack: log in, the DAGs, the Funnel page."""

from __future__ import annotations

import pytest

from tests.browser_support import chromium, screenshot
from tests.stack.helpers import Stack

pytestmark = pytest.mark.stack


def _wait(browser, condition, seconds: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, seconds).until(condition)


def _log_in(browser, stack: Stack) -> None:
    password = (stack.home / "stack" / "secrets" / "admin_password").read_text().strip()
    browser.get(f"{stack.api}/")
    _wait(browser, lambda b: b.find_elements("name", "username"))
    browser.find_element("name", "username").send_keys("admin")
    browser.find_element("name", "password").send_keys(password)
    browser.find_element("xpath", "//button[normalize-space()='Sign in']").click()
    _wait(browser, lambda b: any(c["name"] == "_token" for c in b.get_cookies()))


def test_log_in_and_see_the_funnel_dags_and_no_import_errors(stack: Stack, api) -> None:
    expected = {d["dag_id"] for d in api.get("/dags", params={"limit": 100}).json()["dags"]}
    with chromium() as browser:
        _log_in(browser, stack)
        browser.get(f"{stack.api}/dags")
        _wait(browser, lambda b: all(dag_id in b.page_source for dag_id in expected))
        assert "Import Errors" not in browser.page_source and "DAG Import Error" not in browser.page_source
        screenshot(browser, "airflow-dags")


def test_funnel_page_in_the_ui_logged_in_and_refused_logged_out(stack: Stack) -> None:
    with chromium() as browser:
        browser.get(f"{stack.api}/funnelflow-ui/")
        assert "Log in to Airflow first" in browser.page_source
        assert "Leads by stage" not in browser.page_source
        screenshot(browser, "funnel-page-logged-out")
        _log_in(browser, stack)
        browser.get(f"{stack.api}/plugin/funnel")
        frame = _wait(browser, lambda b: b.find_elements("css selector", "iframe[src*='/funnelflow-ui/']"))[0]
        browser.switch_to.frame(frame)
        _wait(browser, lambda b: "Leads by stage" in b.page_source)
        for section in ("Weekly report", "Campaigns", "Upcoming webinars", "Sales queue SLA"):
            assert f"<h2>{section}</h2>" in browser.page_source
        browser.switch_to.default_content()
        screenshot(browser, "funnel-page")
