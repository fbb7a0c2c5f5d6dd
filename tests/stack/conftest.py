"""The stack the stack tests share: started once per session, stopped (exactly its processes) at the end."""

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


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    import shutil
    import tempfile

    import redis

    redis.Redis.from_url("redis://127.0.0.1:6379/9").flushdb()  # this test's own broker database
    # Not under pytest's basetemp: another pytest session on the machine may prune that while the
    # stack runs, and the stack's pids.json must outlive every test of this session.
    s = Stack(Path(tempfile.mkdtemp(prefix="ff-stack-test-")))
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
        shutil.rmtree(s.home, ignore_errors=True)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.fixture(scope="session")
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


def wait_for(what: str, probe, timeout_s: float = RUN_TIMEOUT_S):
    """Polls ``probe`` until it returns a truthy value; fails with ``what`` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := probe():
            return value
        time.sleep(1.0)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


def runs(api: httpx.Client, dag_id: str) -> list[dict]:
    resp = api.get(f"/dags/{dag_id}/dagRuns", params={"order_by": "-run_after"})
    resp.raise_for_status()
    return resp.json()["dag_runs"]
