"""Cheap checks that stop a broken DAG from ever reaching the scheduler."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from funnelflow_airflow.common import OWNER, Tag
from funnelflow_airflow.task_logs import mask_task_logs

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted(p for p in (REPO / "dags").glob("*.py") if not p.name.startswith("_"))
# The one factory file: dags/campaigns.py makes `campaign_<slug>` for each config/campaigns/<slug>.yaml.
FACTORY = "campaigns"
CAMPAIGN_FILES = sorted((REPO / "config" / "campaigns").glob("*.yaml"))


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_dagbag_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert dagbag.dags, "no DAGs found"


def test_one_dag_per_file_named_after_it(dagbag):
    by_file: dict[str, list[str]] = {}
    for d in dagbag.dags.values():
        by_file.setdefault(Path(d.fileloc).stem, []).append(d.dag_id)
    assert sorted(by_file) == sorted(p.stem for p in DAG_FILES)
    for stem, dag_ids in by_file.items():
        if stem == FACTORY:
            assert sorted(dag_ids) == sorted(f"campaign_{p.stem}" for p in CAMPAIGN_FILES)
        else:
            assert dag_ids == [stem]


def test_every_dag_has_owner_tags_retries_docs_and_alert(dagbag):
    allowed = {t.value for t in Tag}
    for dag in dagbag.dags.values():
        assert dag.doc_md and "Owner" in dag.doc_md, f"{dag.dag_id}: doc_md with an Owner section"
        assert dag.tags and set(dag.tags) <= allowed, (
            f"{dag.dag_id}: tags {dag.tags} not in {sorted(allowed)}"
        )
        assert dag.catchup is False, f"{dag.dag_id}: catchup must be off"
        for task in dag.tasks:
            assert task.owner == OWNER, f"{dag.dag_id}.{task.task_id}: owner {task.owner!r}"
            assert task.retries >= 1, f"{dag.dag_id}.{task.task_id}: no retries"
            assert task.on_failure_callback, f"{dag.dag_id}.{task.task_id}: no failure alert"
            assert task._pre_execute_hook is mask_task_logs, (
                f"{dag.dag_id}.{task.task_id}: its log is not masked (default_args' pre_execute)"
            )


def test_every_dag_has_a_runbook(dagbag):
    """doc_md says, for whoever is on call: what to look at, what is safe to rerun, who to tell."""
    for dag in dagbag.dags.values():
        doc = dag.doc_md or ""
        assert "## If it fails" in doc, f"{dag.dag_id}: doc_md needs an '## If it fails' section"
        runbook = doc.split("## If it fails", 1)[1].split("\n## ", 1)[0]
        for part in ("**Look at:**", "**Safe to rerun:**", "**Tell:**"):
            assert part in runbook, f"{dag.dag_id}: the 'If it fails' section needs {part}"
            text = runbook.split(part, 1)[1].split("\n- **", 1)[0].strip()
            assert len(text) > 20, f"{dag.dag_id}: {part} says nothing useful: {text!r}"


def test_every_dag_is_part_of_the_demo(dagbag):
    from funnelflow_airflow.demo import DEMO_DAGS

    # Every pipeline, and one campaign (the factory's DAGs are all made by the same code).
    pipelines = {d for d in dagbag.dag_ids if not d.startswith("campaign_")}
    assert set(DEMO_DAGS) - pipelines == {"campaign_december-newsletter"}
    assert pipelines <= set(DEMO_DAGS)


# Runs each DAG file in a fresh interpreter after importing Airflow's SDK, with
# sockets and SQLite blocked, and lists what the file itself imported.
_PROBE = r"""
import importlib.util, json, socket, sqlite3, sys
import airflow.sdk  # noqa: F401  (Airflow's own import cost is not ours)
import funnelflow_airflow.common, funnelflow_airflow.assets  # noqa: F401
before = set(sys.modules)
opened = []
def refuse(*a, **k):
    opened.append("network or database")
    raise RuntimeError("DAG file opened a connection at import time")
socket.socket.connect = refuse
socket.create_connection = refuse
sqlite3.connect = refuse
spec = importlib.util.spec_from_file_location("probe_dag", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
print(json.dumps({"new": sorted(set(sys.modules) - before), "opened": opened}))
"""

HEAVY = (
    "pandas",
    "numpy",
    "sendgrid",
    "psycopg",
    "sqlalchemy",
    "funnelflow.db.engine",
    "openpyxl",
    "matplotlib",
    "fastapi",
)


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_dag_file_import_is_light_and_offline(path):
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True, cwd=REPO, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["opened"] == []
    heavy = [m for m in result["new"] if m.split(".")[0] in HEAVY or m in HEAVY]
    assert heavy == [], f"{path.name} imports at module level: {heavy[:5]}"


def test_a_broken_campaign_file_hides_no_other_and_its_dag_fails_with_file_line_and_fix(
    tmp_path, monkeypatch
):
    import shutil

    from airflow.dag_processing.dagbag import DagBag

    from funnelflow.campaigns.config import CampaignError

    folder = tmp_path / "campaigns"
    shutil.copytree(REPO / "config" / "campaigns", folder)
    broken = (
        (folder / "webinar-followup.yaml").read_text().replace("owner: marketing-ops", "owner: [marketing")
    )
    (folder / "broken-one.yaml").write_text(broken)
    monkeypatch.setenv("FUNNELFLOW_CONFIG_DIR", str(tmp_path))
    bag = DagBag(dag_folder=str(REPO / "dags" / "campaigns.py"))
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == sorted(
        ["campaign_broken-one", *(f"campaign_{p.stem}" for p in CAMPAIGN_FILES)]
    )
    dag = bag.dags["campaign_broken-one"]
    [only] = dag.tasks
    with pytest.raises(CampaignError, match=r"broken-one\.yaml, line \d+: .*fix: "):
        only.python_callable()
    assert "line" in dag.doc_md and "If it fails" in dag.doc_md
