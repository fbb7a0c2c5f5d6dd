"""welcome_emails end to end through Airflow (dag.test), with the real client against the stand-in."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from funnelflow.db.engine import make_engine
from funnelflow.db.schema import email_sends
from tests.factories import API_KEY, AS_OF, REPO, add_person


@pytest.fixture
def sendgrid_connection(standin, monkeypatch: pytest.MonkeyPatch) -> None:
    """The DAG sends through SendGrid: the `sendgrid_default` connection points at the stand-in."""
    monkeypatch.setenv("FUNNELFLOW_EMAIL_TRANSPORT", "sendgrid")
    monkeypatch.setenv(
        "AIRFLOW_CONN_SENDGRID_DEFAULT",
        json.dumps({"conn_type": "email", "host": standin.base_url, "password": API_KEY}),
    )


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_welcome_emails_dag_sends_confirmation_and_welcome_once(
    airflow_db, marketing_db_env, standin, sendgrid_connection
):
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


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_retry_that_finds_its_earlier_claims_fails_without_retrying_and_alerts(
    airflow_db, marketing_db_env, standin, sendgrid_connection, monkeypatch
):
    """Issue 10: a try dies after SendGrid took the welcome, before the ledger said so; the next try
    of the same run must neither send it again nor end green."""
    from funnelflow.email import ledger

    monkeypatch.setenv("FUNNELFLOW_OPS_EMAIL", "oncall@example.com")
    engine = make_engine(marketing_db_env)
    with engine.begin() as conn:
        add_person(conn, "granted@example.com", consent=[("granted", AS_OF - timedelta(minutes=4))])
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags" / "welcome_emails.py")).get_dag("welcome_emails")
    task = dag.get_task("send_welcomes")

    tries = []
    real_mark_sent = ledger.mark_sent

    def worker_lost_on_the_first_try(*args, **kwargs):
        tries.append(1)
        if len(tries) == 1:
            raise RuntimeError("worker lost")
        return real_mark_sent(*args, **kwargs)

    monkeypatch.setattr(ledger, "mark_sent", worker_lost_on_the_first_try)
    # Two retries configured, taken at once (dag.test waits out retry_delay): the second must not be used.
    task.retries, task.retry_delay = 2, timedelta(0)
    run = dag.test(logical_date=AS_OF)
    assert run.state == "failed"
    ti = run.get_task_instance("send_welcomes")
    assert (ti.state, ti.try_number) == ("failed", 2)  # failed on its second try, not up for a third
    # The welcome went once (first try); operations hear of it once.
    assert standin.recipients() == ["granted@example.com", "oncall@example.com"]
    alert = standin.sent[1].body
    assert alert["subject"].startswith("[funnelflow] failed: welcome_emails.send_welcomes")
    assert "UnsettledSends" in alert["content"][0]["value"]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(email_sends.c.status, email_sends.c.claimed_by)).all()
    assert [s for s, _ in rows] == ["unsettled"] and rows[0][1].startswith("welcome_emails/send_welcomes/")
    engine.dispose()
