"""sales_handoff and crm_sync end to end through Airflow (dag.test), reruns included."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from funnelflow.db.engine import make_engine
from funnelflow.db.schema import email_sends, leads, sales_queue
from tests.fakes.crm import FakeCrm
from tests.sales.factories import AS_OF, TEAM_YAML, add_sql_lead

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def team_dir(tmp_path, monkeypatch):
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "sales_team.yaml").write_text(TEAM_YAML)
    monkeypatch.setenv("FUNNELFLOW_CONFIG_DIR", str(folder))
    monkeypatch.setenv("FUNNELFLOW_EMAIL_TRANSPORT", "outbox")
    monkeypatch.setenv("FUNNELFLOW_SECRET_KEY", "test-secret")
    return folder


def _dag(name):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags" / f"{name}.py")).get_dag(name)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sales_handoff_and_crm_sync_dags(
    airflow_db, marketing_db_env, funnelflow_home, team_dir, monkeypatch
):
    engine = make_engine(marketing_db_env)
    lead_id = add_sql_lead(engine, "a@x.example", AS_OF - timedelta(minutes=5), country="US", fit_grade="A")
    handoff = _dag("sales_handoff")
    for _ in range(2):  # a rerun of the same interval queues and sends nothing more
        assert handoff.test(logical_date=AS_OF).state == "success"
    with engine.connect() as conn:
        item = conn.execute(sa.select(sales_queue)).mappings().one()
        keys = conn.execute(sa.select(email_sends.c.message_key, email_sends.c.status)).all()
    assert (item["lead_id"], item["rep_id"], item["status"]) == (lead_id, "marcus", "open")
    assert keys == [(f"sales-alert:{item['id']}:marcus", "sent")]

    with FakeCrm() as crm:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CRM_DEFAULT",
            json.dumps({"conn_type": "http", "host": crm.base_url, "password": crm.api_key}),
        )
        crm.opportunities = [
            {
                "id": "o1",
                "lead_id": lead_id,
                "stage": "open",
                "kind": "new",
                "created_at": "2026-12-01T12:00:00+00:00",
            }
        ]
        sync = _dag("crm_sync")
        for _ in range(2):
            assert sync.test(logical_date=AS_OF + timedelta(hours=1)).state == "success"
        assert len(crm.records) == 1
    with engine.connect() as conn:
        stage = conn.execute(sa.select(leads.c.lifecycle_stage).where(leads.c.id == lead_id)).scalar_one()
        crm_status = conn.execute(sa.select(sales_queue.c.crm_status)).scalar_one()
    assert (stage, crm_status) == ("opportunity", "pushed")
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_crm_sync_without_a_connection_exports_csv(
    airflow_db, marketing_db_env, funnelflow_home, team_dir, monkeypatch
):
    monkeypatch.delenv("AIRFLOW_CONN_CRM_DEFAULT", raising=False)
    engine = make_engine(marketing_db_env)
    add_sql_lead(engine, "a@x.example", country="US")
    assert _dag("sales_handoff").test(logical_date=AS_OF).state == "success"
    assert _dag("crm_sync").test(logical_date=AS_OF).state == "success"
    files = list((funnelflow_home / "outbox" / "crm").glob("handoffs-*.csv"))
    assert len(files) == 1 and "funnelflow-item-1" in files[0].read_text()
    engine.dispose()
