"""welcome_emails end to end through Airflow (dag.test), with the real client against the stand-in."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from funnelflow.db.engine import make_engine
from funnelflow.db.schema import email_sends
from tests.email_send.conftest import API_KEY, AS_OF, add_person

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_welcome_emails_dag_sends_confirmation_and_welcome_once(
    airflow_db, marketing_db_env, standin, monkeypatch
):
    monkeypatch.setenv("FUNNELFLOW_EMAIL_TRANSPORT", "sendgrid")
    monkeypatch.setenv(
        "AIRFLOW_CONN_SENDGRID_DEFAULT",
        json.dumps({"conn_type": "email", "host": standin.base_url, "password": API_KEY}),
    )
    engine = make_engine(marketing_db_env)
    with engine.begin() as conn:
        add_person(conn, "pending@example.com", consent=[("pending", AS_OF - timedelta(minutes=4))])
        add_person(conn, "granted@example.com", consent=[("granted", AS_OF - timedelta(minutes=4))])
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags" / "welcome_emails.py")).get_dag("welcome_emails")
    for _ in range(2):  # the second run is a rerun of the same interval: nothing goes twice
        run = dag.test(logical_date=AS_OF)
        assert run.state == "success"
    assert sorted(standin.recipients()) == ["granted@example.com", "pending@example.com"]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(email_sends.c.template, email_sends.c.kind, email_sends.c.status)).all()
    assert sorted(rows) == [("confirm", "transactional", "sent"), ("welcome", "marketing", "sent")]
    engine.dispose()
