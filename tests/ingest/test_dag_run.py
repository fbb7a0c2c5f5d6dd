"""lead_ingestion end to end through Airflow (dag.test): a file, a web-form post and an ad lead in one run."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from funnelflow.db.engine import make_engine
from funnelflow.db.schema import lead_landing
from funnelflow.web.leads import content_hash
from tests.factories import REPO, count, rows
from tests.fakes.ad_platform import FakeAdPlatform

AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_lead_ingestion_dag_brings_every_source_in_once(
    airflow_db, marketing_db_env, funnelflow_home, monkeypatch
):
    inbox = funnelflow_home / "inbox" / "leads"
    inbox.mkdir(parents=True)
    (inbox / "tradeshow-berlin.csv").write_text(
        "Email,Vorname,Firma\nfile@example.de,Fritz,Messe AG\n", encoding="utf-8"
    )
    engine = make_engine(marketing_db_env)
    payload = {"email": "form@example.com", "first_name": "Fiona", "consent": True, "utm_source": "google"}
    with engine.begin() as conn:
        conn.execute(
            lead_landing.insert().values(
                source="web_form",
                received_at=AS_OF,
                payload=payload,
                content_hash=content_hash(payload),
                client_ip="203.0.113.9",
            )
        )
    with FakeAdPlatform() as fake:
        fake.add_lead("L1", "2026-11-23T11:55:00+00:00", {"email": "ad@example.com", "first_name": "Adam"})
        monkeypatch.setenv(
            "AIRFLOW_CONN_AD_PLATFORM_LINKEDIN",
            json.dumps({"conn_type": "http", "host": fake.base_url, "password": fake.token}),
        )
        from airflow.dag_processing.dagbag import DagBag

        dag = DagBag(dag_folder=str(REPO / "dags" / "lead_ingestion.py")).get_dag("lead_ingestion")
        states = []
        for _ in range(2):  # the second is a rerun of the same interval: it adds nothing
            run = dag.test(logical_date=AS_OF)
            assert run.state == "success"
            states.append({ti.task_id: ti.state for ti in run.get_task_instances()})
    assert states[0]["announce_new_leads"] == "success"
    assert states[1]["announce_new_leads"] == "skipped"  # nothing arrived: no asset event
    assert sorted(r["email_key"] for r in rows(engine, "select email_key from leads")) == [
        "ad@example.com",
        "file@example.de",
        "form@example.com",
    ]
    assert count(engine, "touchpoints") == 3
    assert sorted(r["channel"] for r in rows(engine, "select channel from touchpoints")) == [
        "ad_form",
        "file_import",
        "web_form",
    ]
    assert list((inbox / "archive").glob("*.receipt.json"))
    engine.dispose()
