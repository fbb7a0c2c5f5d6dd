"""No email address in a task log, not even in the database error a task failed on (run through dag.test)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from tests.factories import REPO

ADDRESS = "jane.doe@example.com"
RUN_AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _fail_on_a_duplicate_address(engine, as_of):
    """Stands in for the engagement step: logs an address, then a write the database refuses."""
    import sqlalchemy as sa

    logging.getLogger("funnelflow.email.events").info("processing events of %s", ADDRESS)
    with engine.begin() as conn:
        conn.exec_driver_sql("create table probe_people (email varchar(200) unique)")
        insert = sa.text("insert into probe_people (email) values (:email)")
        conn.execute(insert, {"email": ADDRESS})
        # IntegrityError: ... [parameters: {'email': 'jane.doe@example.com'}]
        conn.execute(insert, {"email": ADDRESS})


@pytest.fixture
def restore_logging():
    """The masking stays installed in a task's process; in the test process it is undone afterwards."""
    import structlog

    factory, processors = logging.getLogRecordFactory(), list(structlog.get_config()["processors"])
    yield
    logging.setLogRecordFactory(factory)
    structlog.get_config()["processors"][:] = processors


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_failed_task_log_holds_no_address(
    restore_logging, airflow_db, marketing_db_env, funnelflow_home, monkeypatch, capfd, caplog
):
    from airflow.dag_processing.dagbag import DagBag

    import funnelflow.email.events

    monkeypatch.setattr(funnelflow.email.events, "process_events", _fail_on_a_duplicate_address)
    dag = DagBag(dag_folder=str(REPO / "dags" / "email_engagement.py")).get_dag("email_engagement")
    dag.get_task("process_events").retries = 0  # fail now, not after the retry delay
    capfd.readouterr()
    with caplog.at_level(logging.INFO):
        run = dag.test(logical_date=RUN_AT)
    out, err = capfd.readouterr()
    # The task's log as written: structlog events to the process's output, stdlib records through
    # whatever handlers logging has at that moment (pytest's own among them).
    log = out + err + caplog.text
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["process_events"] == "failed"
    # The log line and the error were written, with the address masked ...
    assert "processing events of <email>" in log
    error = log.split("IntegrityError", 1)
    assert len(error) == 2 and "<email>" in error[1]
    # ... and the address itself is nowhere.
    assert ADDRESS not in log


# A supervised task's process logs JSON lines to its supervisor: configured as Airflow configures it.
_TASK_PROCESS = r"""
import io, logging, sys
import structlog
from airflow.sdk.log import configure_logging

out = io.BytesIO()
configure_logging(json_output=True, output=out, sending_to_supervisor=True)
structlog.get_logger(logger_name="task").info("bound before the task starts")  # cached, as in a real run
from funnelflow_airflow.task_logs import mask_task_logs
mask_task_logs({})
log = structlog.get_logger(logger_name="task")
try:
    raise ValueError("duplicate key value (email)=(jane.doe@example.com)")
except ValueError:
    log.exception("Task failed with exception")
    logging.getLogger("funnelflow.x").exception("stdlib too: %s", "jane.doe@example.com")
log.info("event", detail={"to": ["jane.doe@example.com"]})
sys.stdout.write(out.getvalue().decode())
"""


def test_supervised_task_process_sends_no_address_to_its_supervisor():
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _TASK_PROCESS], capture_output=True, text=True, cwd=REPO, check=True
    )
    lines = proc.stdout.splitlines()
    assert len(lines) >= 4, proc.stdout + proc.stderr
    assert "duplicate key value" in proc.stdout and "stdlib too: <email>" in proc.stdout
    assert proc.stdout.count("<email>") >= 3
    assert ADDRESS not in proc.stdout
