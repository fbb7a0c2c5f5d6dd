"""The funnel under Airflow's own scheduler on the CeleryExecutor (``make test-stack``).

Starts ``python -m funnelflow_airflow.stack`` (every part its own process, on the
machine's PostgreSQL and Redis), then works only through Airflow's REST API (v2, with a
token from the auth endpoint) and the public app, as a user would:

- the DAG folder loads with no import errors;
- a messy lead file dropped in the inbox and web-form posts, then ``lead_ingestion``
  triggered through the API, run on the Celery worker;
- ``lead_qualification`` starts because of the asset event ingestion emitted;
- the marketing database holds every row that was put in: inserted + updated +
  rejected + duplicates equals the rows sent;
- ``stack stop`` ends exactly the processes ``stack start`` recorded.

Not part of ``make test`` (it takes a minute or two); ``.ci/run`` runs it after.
"""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import REPO
from tests.stack.conftest import HTTP_TIMEOUT_S, PORTS, Stack, runs, wait_for

pytestmark = pytest.mark.stack


def test_dag_folder_loads_without_import_errors(api: httpx.Client) -> None:
    errors = api.get("/importErrors").json()
    assert errors["total_entries"] == 0, errors
    dags = {d["dag_id"] for d in api.get("/dags", params={"limit": 100}).json()["dags"]}
    # One DAG per file, named after it; dags/campaigns.py makes one per campaign file instead.
    expected = {p.stem for p in (REPO / "dags").glob("*.py") if not p.name.startswith("_")} - {"campaigns"}
    expected |= {f"campaign_{p.stem}" for p in (REPO / "config" / "campaigns").glob("*.yaml")}
    assert expected <= dags


def test_ingestion_on_the_celery_worker_triggers_qualification_by_asset(
    stack: Stack, api: httpx.Client
) -> None:
    inbox = stack.home / "inbox" / "leads"
    inbox.mkdir(parents=True, exist_ok=True)
    rows = 300
    subprocess.run(
        [
            sys.executable,
            "-m",
            "funnelflow",
            "synth",
            "files",
            "--rows",
            str(rows),
            "--out",
            str(inbox / "tradeshow-stack-test.csv"),
            "--seed",
            "11",
            "--repeat-rate",
            "0.05",
            "--broken-rate",
            "0.05",
        ],
        env=stack.env,
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    forms = [
        {"email": f"stack.form{i}@example.org", "first_name": "Form", "consent": True, "utm_source": "stack"}
        for i in range(3)
    ]
    for form in forms:
        posted = httpx.post(f"{stack.public}/leads", json=form, timeout=HTTP_TIMEOUT_S)
        assert posted.status_code == 202, posted.text

    for dag_id in ("lead_ingestion", "lead_qualification"):
        api.patch(f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
    triggered = api.post("/dags/lead_ingestion/dagRuns", json={"logical_date": None})
    assert triggered.status_code == 200, triggered.text
    run_id = triggered.json()["dag_run_id"]

    def ingestion_done():
        state = api.get(f"/dags/lead_ingestion/dagRuns/{run_id}").json()["state"]
        assert state != "failed", "lead_ingestion failed; see the task logs under the stack's airflow home"
        return state == "success"

    wait_for("lead_ingestion to succeed", ingestion_done)

    def qualification_by_asset():
        asset_runs = [r for r in runs(api, "lead_qualification") if r["run_type"] == "asset_triggered"]
        return asset_runs and asset_runs[0]["state"] == "success" and asset_runs[0]

    run = wait_for("lead_qualification to run because of the ingestion's asset event", qualification_by_asset)
    assert run["triggered_by"] == "asset"

    engine = stack.marketing_engine()
    with engine.connect() as conn:
        counts = conn.execute(sa.text("select counts from ingest_files")).scalars().all()
        form_touches = conn.execute(
            sa.text("select count(*) from touchpoints where channel = 'web_form'")
        ).scalar_one()
        leads = conn.execute(sa.text("select count(*) from leads")).scalar_one()
    engine.dispose()
    [receipt] = [c if isinstance(c, dict) else json.loads(c) for c in counts]
    accounted = receipt["inserted"] + receipt["updated"] + receipt["rejected"] + receipt["duplicates"]
    assert accounted == receipt["rows_in"] == rows
    assert form_touches == len(forms)
    assert leads >= receipt["inserted"] + len(forms)


def test_funnel_page_behind_airflow_login(stack: Stack, api: httpx.Client) -> None:
    page = f"{stack.api}/funnelflow-ui/"
    token = api.headers["Authorization"]
    logged_in = httpx.get(page, headers={"Authorization": token}, timeout=HTTP_TIMEOUT_S)
    assert logged_in.status_code == 200 and "Leads by stage" in logged_in.text
    assert "signed in as admin" in logged_in.text
    as_cookie = httpx.get(page, cookies={"_token": token.removeprefix("Bearer ")}, timeout=HTTP_TIMEOUT_S)
    assert as_cookie.status_code == 200  # what the UI's iframe sends
    anonymous = httpx.get(page, timeout=HTTP_TIMEOUT_S)
    assert anonymous.status_code == 401 and "Leads by stage" not in anonymous.text
    forged = httpx.get(page, headers={"Authorization": "Bearer not.a.token"}, timeout=HTTP_TIMEOUT_S)
    assert forged.status_code in (401, 403) and "Leads by stage" not in forged.text
    views = [v for p in api.get("/plugins").json()["plugins"] for v in p.get("external_views", [])]
    assert any(v["name"] == "Funnel" and v["href"] == "/funnelflow-ui/" for v in views)
    public = httpx.get(f"http://127.0.0.1:{PORTS['public']}/funnelflow-ui/", timeout=HTTP_TIMEOUT_S)
    assert public.status_code == 404
