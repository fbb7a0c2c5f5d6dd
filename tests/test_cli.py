"""The command line works from the repo root, reads the connection itself, and fails in one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")} | env
    return subprocess.run(
        [sys.executable, "-m", "funnelflow", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=full_env,
        check=False,
    )


def test_db_upgrade_then_current_then_status(empty_db_url, tmp_path):
    env = {"AIRFLOW_CONN_MARKETING_DB": empty_db_url, "FUNNELFLOW_HOME": str(tmp_path / "home")}
    behind = _cli("db", "current", env=env)
    assert behind.returncode == 1 and "(behind)" in behind.stdout
    up = _cli("db", "upgrade", env=env)
    assert up.returncode == 0, up.stderr
    assert "empty ->" in up.stdout
    again = _cli("db", "upgrade", env=env)  # idempotent
    assert again.returncode == 0
    cur = _cli("db", "current", env=env)
    assert cur.returncode == 0 and "(behind)" not in cur.stdout
    status = _cli("status", env=env)
    assert status.returncode == 0 and "leads:" in status.stdout


def test_status_on_a_database_behind_names_the_command(empty_db_url, tmp_path):
    out = _cli("status", env={"AIRFLOW_CONN_MARKETING_DB": empty_db_url, "FUNNELFLOW_HOME": str(tmp_path)})
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert "python -m funnelflow db upgrade" in out.stderr


def test_unreachable_connection_is_one_line_without_password(tmp_path):
    out = _cli(
        "db",
        "upgrade",
        env={
            "AIRFLOW_CONN_MARKETING_DB": "postgresql://mk:hunter2@127.0.0.1:1/crm",
            "FUNNELFLOW_HOME": str(tmp_path),
        },
    )
    assert out.returncode == 2
    assert out.stderr.startswith(
        "error: cannot reach the 'marketing_db' connection at postgresql+psycopg://mk:***@127.0.0.1:1/crm"
    )
    assert "hunter2" not in out.stderr and out.stderr.strip().count("\n") == 0


def test_default_database_is_created_in_funnelflow_home(tmp_path):
    home = tmp_path / "new-home"
    out = _cli("db", "upgrade", env={"FUNNELFLOW_HOME": str(home)})
    assert out.returncode == 0, out.stderr
    assert (home / "marketing.db").exists()
