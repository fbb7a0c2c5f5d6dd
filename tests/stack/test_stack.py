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
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import REPO

pytestmark = pytest.mark.stack

RUN_TIMEOUT_S = 600.0
HTTP_TIMEOUT_S = 60.0  # a loaded 2-core machine can keep the api-server busy for seconds
PORTS = {"api": 18080, "public": 18000, "scheduler_health": 18974}


class Stack:
    def __init__(self, home: Path) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.home = home
        self.env = dict(os.environ)
        self.env.update(
            {
                "FUNNELFLOW_HOME": str(home),
                "FUNNELFLOW_STACK_AIRFLOW_DB": f"ff_stack_airflow_{suffix}",
                "FUNNELFLOW_STACK_MARKETING_DB": f"ff_stack_marketing_{suffix}",
                "FUNNELFLOW_STACK_API_PORT": str(PORTS["api"]),
                "FUNNELFLOW_STACK_PUBLIC_PORT": str(PORTS["public"]),
                "FUNNELFLOW_STACK_SCHEDULER_HEALTH_PORT": str(PORTS["scheduler_health"]),
                "FUNNELFLOW_STACK_REDIS": "redis://127.0.0.1:6379/9",
            }
        )
        for name in [k for k in self.env if k.startswith("AIRFLOW")]:
            del self.env[name]
        self.api = f"http://127.0.0.1:{PORTS['api']}"
        self.public = f"http://127.0.0.1:{PORTS['public']}/funnelflow"

    def run(self, command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "funnelflow_airflow.stack", command],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )

    def marketing_engine(self) -> sa.Engine:
        from funnelflow_airflow.stack import PG_ADMIN_URL

        url = sa.make_url(PG_ADMIN_URL).set(
            drivername="postgresql+psycopg", database=self.env["FUNNELFLOW_STACK_MARKETING_DB"]
        )
        return sa.create_engine(url, poolclass=sa.NullPool)

    def drop_databases(self) -> None:
        from funnelflow_airflow.stack import PG_ADMIN_URL

        admin = sa.create_engine(
            sa.make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            for key in ("FUNNELFLOW_STACK_AIRFLOW_DB", "FUNNELFLOW_STACK_MARKETING_DB"):
                conn.execute(sa.text(f'drop database if exists "{self.env[key]}" with (force)'))
        admin.dispose()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    import redis

    redis.Redis.from_url("redis://127.0.0.1:6379/9").flushdb()  # this test's own broker database
    s = Stack(tmp_path_factory.mktemp("stack-home"))
    started = s.run("start")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"Airflow UI: http://127.0.0.1:{PORTS['api']}" in started.stdout
        yield s
    finally:
        recorded = json.loads((s.home / "stack" / "pids.json").read_text()) if started.returncode == 0 else {}
        stopped = s.run("stop")
        for name, entry in recorded.items():
            assert not Path(f"/proc/{entry['pid']}").exists() or _zombie(entry["pid"]), (
                f"{name} still running"
            )
        s.drop_databases()
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[httpx.Client]:
    password = (stack.home / "stack" / "secrets" / "admin_password").read_text().strip()
    token = httpx.post(
        f"{stack.api}/auth/token", json={"username": "admin", "password": password}, timeout=HTTP_TIMEOUT_S
    )
    assert token.status_code == 201, token.text
    with httpx.Client(
        base_url=f"{stack.api}/api/v2",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=HTTP_TIMEOUT_S,
    ) as client:
        yield client


def _wait_for(what: str, probe, timeout_s: float = RUN_TIMEOUT_S):
    """Polls ``probe`` until it returns a truthy value; fails with ``what`` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := probe():
            return value
        time.sleep(1.0)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _runs(api: httpx.Client, dag_id: str) -> list[dict]:
    resp = api.get(f"/dags/{dag_id}/dagRuns", params={"order_by": "-run_after"})
    resp.raise_for_status()
    return resp.json()["dag_runs"]


def test_dag_folder_loads_without_import_errors(api: httpx.Client) -> None:
    errors = api.get("/importErrors").json()
    assert errors["total_entries"] == 0, errors
    dags = {d["dag_id"] for d in api.get("/dags", params={"limit": 100}).json()["dags"]}
    expected = {p.stem for p in (REPO / "dags").glob("*.py") if not p.name.startswith("_")}
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

    _wait_for("lead_ingestion to succeed", ingestion_done)

    def qualification_by_asset():
        asset_runs = [r for r in _runs(api, "lead_qualification") if r["run_type"] == "asset_triggered"]
        return asset_runs and asset_runs[0]["state"] == "success" and asset_runs[0]

    run = _wait_for(
        "lead_qualification to run because of the ingestion's asset event", qualification_by_asset
    )
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
