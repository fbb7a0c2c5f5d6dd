"""The Funnel page: Airflow's login required, content from the marketing database, never on the public app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from funnelflow.web.app import create_standalone_app

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


def test_logged_in_the_page_shows_the_funnel(page_app, engine, marketing_db_env):
    import sqlalchemy as sa
    from airflow.api_fastapi.core_api.security import get_user

    from funnelflow.db.schema import leads

    with engine.begin() as conn:
        conn.execute(
            sa.insert(leads),
            [{"lifecycle_stage": "mql"}, {"lifecycle_stage": "mql"}, {"lifecycle_stage": "sql"}],
        )
    page_app.dependency_overrides[get_user] = _User
    resp = TestClient(page_app).get("/")
    assert resp.status_code == 200
    assert "signed in as ops-person" in resp.text
    assert '<th scope="row">mql</th><td class="n">2</td>' in resp.text
    assert '<th scope="row">sql</th><td class="n">1</td>' in resp.text


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
