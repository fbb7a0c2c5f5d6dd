"""A campaign DAG end to end through Airflow (dag.test): deferrable waits, cells, winner, remainder; a rerun
sends nothing."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from funnelflow.db.engine import make_engine
from funnelflow.db.schema import campaign_runs, email_sends
from tests.campaigns.factories import write_campaign
from tests.factories import API_KEY, AS_OF, add_person

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_campaign_dag_sends_cells_then_the_remainder_once(
    airflow_db, marketing_db_env, standin, monkeypatch, tmp_path
):
    monkeypatch.setenv("FUNNELFLOW_EMAIL_TRANSPORT", "sendgrid")
    monkeypatch.setenv(
        "AIRFLOW_CONN_SENDGRID_DEFAULT",
        json.dumps({"conn_type": "email", "host": standin.base_url, "password": API_KEY}),
    )
    monkeypatch.setenv("FUNNELFLOW_CONFIG_DIR", str(tmp_path))
    write_campaign(tmp_path / "campaigns")
    engine = make_engine(marketing_db_env)
    with engine.begin() as conn:
        for i in range(12):
            add_person(conn, f"d{i}@example.com", f"D{i}")
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags" / "campaigns.py")).get_dag("campaign_test-news")
    assert {"wait_for_send_window", "wait_for_results"} <= set(dag.task_ids)
    assert dag.get_task("wait_for_results").__class__.__name__ == "DateTimeSensorAsync"  # no worker slot held
    for _ in range(2):  # the second run is a rerun of the same run: nothing goes twice
        run = dag.test(logical_date=AS_OF, run_conf={"wait_hours": 0.01})
        assert run.state == "success"
    assert Counter(standin.recipients()) == Counter(f"d{i}@example.com" for i in range(12))
    with engine.connect() as conn:
        variants = Counter(conn.execute(sa.select(email_sends.c.variant)).scalars())
        status, winner, decision = conn.execute(
            sa.select(campaign_runs.c.status, campaign_runs.c.winner, campaign_runs.c.decision)
        ).one()
    # Nothing was delivered yet (no events): too few to judge, so `a` wins and says why.
    assert status == "done" and winner == "a" and decision["reason"].startswith("too few deliveries")
    assert sum(variants.values()) == 12 and variants["b"] >= 1
    engine.dispose()
