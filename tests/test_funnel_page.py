"""The Funnel page: Airflow's login required, content from the marketing database, never on the public app."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from funnelflow.web.app import create_standalone_app
from tests.overview_rows import AS_OF, fill, write_campaigns

pytestmark = pytest.mark.airflow


class _User:
    def get_name(self) -> str:
        return "ops-person"


@pytest.fixture
def page_app():
    from funnelflow_airflow.funnel_page import create_funnel_page_app

    return create_funnel_page_app()


def test_without_airflow_login_the_page_refuses(page_app):
    resp = TestClient(page_app).get("/")
    assert resp.status_code == 401
    assert "Log in to Airflow first" in resp.text
    assert "Leads by stage" not in resp.text
    assert resp.headers["cache-control"] == "no-store"


def _logged_in(app):
    from airflow.api_fastapi.core_api.security import get_user

    app.dependency_overrides[get_user] = _User
    return TestClient(app)


@pytest.fixture
def funnel(engine, marketing_db_env, funnelflow_home, tmp_path, monkeypatch):
    monkeypatch.setenv("FUNNELFLOW_CONFIG_DIR", str(tmp_path / "config"))
    write_campaigns(tmp_path / "config")
    fill(engine, funnelflow_home)
    return funnelflow_home


def _text(html: str) -> str:
    """The page as a person reads it: tags gone, whitespace collapsed."""
    import re

    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_logged_in_the_page_shows_the_funnel(funnel):
    from funnelflow_airflow.funnel_page import create_funnel_page_app

    resp = _logged_in(create_funnel_page_app(clock=lambda: AS_OF)).get("/")
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
    text = _text(resp.text)
    assert "As of 2026-12-01 10:00 UTC · signed in as ops-person" in text
    assert '<th scope="row">mql</th><td class="n">2</td>' in resp.text
    assert '<th scope="row">sql</th><td class="n">1</td>' in resp.text
    # The weekly report: the newest whole week, its figures, a link to the saved file.
    assert "Week 2026-W48" in text and "New leads 12 MQLs 5 SQLs 2 Customers 1 Emails sent 10" in text
    assert 'href="reports/2026-W48/report.html"' in resp.text
    # Campaigns: next run from the file's schedule, the last run's results from the ledger and events.
    assert (
        "Weekly news weekly-news 2026-12-08 08:00 UTC cron 0 9 * * TUE (Europe/Berlin) "
        "2026-11-24 08:00 UTC done; 3 of 4 sendable 3 2 1 1 0 1" in text
    )
    assert "Old announcement old-once no further runs" in text and "no run yet" in text
    assert "broken invalid file" in text
    # Webinars with registered, waitlisted and seats of capacity; the sales queue's SLA.
    assert "Webinar dec-demo dec-demo 2026-12-10 15:00 UTC Europe/Berlin 1 1 1 of 2" in text
    assert "nov-demo" not in text and "called-off" not in text
    assert "Open 4 Not yet acted on 3 Due soon 1 Breached 1 Unassigned 1" in text
    assert "the oldest was due 2026-11-30 14:00 UTC" in text


def test_the_page_judges_now_by_its_clock(funnel):
    from funnelflow_airflow.funnel_page import create_funnel_page_app

    later = _text(_logged_in(create_funnel_page_app(clock=lambda: AS_OF + timedelta(days=10))).get("/").text)
    assert "Due soon 0 Breached 3" in later  # every open item nobody acted on is past due
    assert "Webinar dec-demo" not in later and "Week 2026-W49" in later


def test_the_saved_report_opens_only_logged_in_and_only_report_files(funnel, page_app):
    (funnel / "reports" / "2026-W48" / "funnel.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (funnel / "secret.txt").write_text("not for the page")
    anonymous = TestClient(page_app)
    assert anonymous.get("/reports/2026-W48/report.html").status_code == 401
    client = _logged_in(page_app)
    report = client.get("/reports/2026-W48/report.html")
    assert report.status_code == 200 and "Week 2026-W48" in report.text
    assert report.headers["content-type"].startswith("text/html")
    assert report.headers["cache-control"] == "no-store"
    assert client.get("/reports/2026-W48/funnel.png").headers["content-type"] == "image/png"
    for path in (
        "/reports/2026-W48/..%2F..%2Fsecret.txt",
        "/reports/..%2F/secret.txt",
        "/reports/2026-W48/report.eml",  # not a file the page serves
        "/reports/2026-W47/report.html",  # no such file
        "/reports/2026-W48/.report.html.tmp",
    ):
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert "not for the page" not in resp.text


def test_the_public_app_never_serves_the_funnel_page(engine):
    client = TestClient(create_standalone_app(engine))
    assert client.get("/funnelflow-ui/").status_code == 404
    assert client.get("/funnelflow/funnelflow-ui/").status_code == 404


def test_the_plugin_adds_the_funnel_entry_to_the_navigation():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "plugins" / "funnelflow_public.py"
    spec = importlib.util.spec_from_file_location("funnelflow_public_plugin", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    plugin = module.FunnelflowPublicApp
    [view] = plugin.external_views
    assert (view["name"], view["href"], view["destination"]) == ("Funnel", "/funnelflow-ui/", "nav")
    prefixes = {app["url_prefix"] for app in plugin.fastapi_apps}
    assert prefixes == {"/funnelflow", "/funnelflow-ui"}
