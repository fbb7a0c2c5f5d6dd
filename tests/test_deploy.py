"""docker-compose.yml and the Dockerfile: validated here, since no Docker engine runs on these machines."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
REQUIRED_SERVICES = {
    "postgres",
    "redis",
    "mailpit",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
    "funnelflow-public",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def _pin(package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==(\S+)$", (REPO / "requirements.txt").read_text(), re.M)
    assert match, f"{package} is not pinned in requirements.txt"
    return match.group(1)


def test_image_matches_the_airflow_pin():
    base = re.search(r"^FROM apache/airflow:(\S+)-python(\S+)$", (REPO / "Dockerfile").read_text(), re.M)
    assert base, "Dockerfile must start FROM apache/airflow:<version>-python<version>"
    assert base.group(1) == _pin("apache-airflow")
    assert base.group(2) == "3.11"
    assert "requirements.txt" in (REPO / "Dockerfile").read_text()


def test_services_health_checks_and_dependencies(compose):
    services = compose["services"]
    assert REQUIRED_SERVICES <= set(services)
    assert services["postgres"]["image"].startswith("postgres:16")
    for name, svc in services.items():
        if name != "airflow-init":
            assert "healthcheck" in svc, f"{name} has no health check"
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert cond["condition"] in {
                "service_healthy",
                "service_completed_successfully",
                "service_started",
            }
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW_CONN_MARKETING_DB"].endswith("@postgres:5432/marketing")
    assert "airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].rsplit("/", 1)[-1]


def test_worker_scales_and_public_app_is_the_only_public_service(compose):
    services = compose["services"]
    worker = services["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker  # --scale needs both absent
    assert "serve" in services["funnelflow-public"]["entrypoint"]
    api_ports = services["airflow-apiserver"]["ports"]
    assert all(str(p).startswith("127.0.0.1:") for p in api_ports), "Airflow's API must stay private"


def test_init_migrates_both_databases(compose):
    command = " ".join(compose["services"]["airflow-init"]["command"])
    assert "airflow db migrate" in command and "python -m funnelflow db upgrade" in command
    init_sh = (REPO / "deploy/postgres-init/10-marketing-db.sh").read_text()
    assert "create database marketing" in init_sh


def test_docker_compose_config_when_the_tool_is_present(tmp_path):
    if shutil.which("docker-compose"):
        cmd = ["docker-compose"]
    elif (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0
    ):
        cmd = ["docker", "compose"]
    else:
        pytest.skip(
            "neither docker-compose nor the docker compose plugin is installed here; "
            "YAML checks above cover it"
        )
    out = subprocess.run(
        [*cmd, "-f", str(REPO / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env={"FUNNELFLOW_SECRET_KEY": "x", "PATH": "/usr/bin:/bin:/usr/local/bin"},
        check=False,
    )
    assert out.returncode == 0, out.stderr
