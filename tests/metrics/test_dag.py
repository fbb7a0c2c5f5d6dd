"""weekly_funnel_report end to end through Airflow (dag.test): compute, common-sql checks, files,
send once."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from funnelflow.db.engine import make_engine
from funnelflow.db.schema import attribution_weekly, email_sends, metrics_weeks
from funnelflow.metrics.config import load_reports_config
from tests.metrics.helpers import add_lead, add_stage, add_touch, at, compute

REPO = Path(__file__).resolve().parents[2]
MONDAY_RUN = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # reports 2026-W47


def airflow_connection(url: str) -> str:
    """The same database in Airflow's JSON form, which both funnelflow and Airflow's SQL hooks read."""
    u = sa.make_url(url)
    if u.drivername.startswith("sqlite"):
        return json.dumps({"conn_type": "sqlite", "host": u.database})
    return json.dumps(
        {"conn_type": "postgres", "host": u.host, "port": u.port, "login": u.username, "schema": u.database}
    )


@pytest.fixture
def report_dag(airflow_db, db_url, funnelflow_home, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MARKETING_DB", airflow_connection(db_url))
    monkeypatch.setenv("FUNNELFLOW_EMAIL_TRANSPORT", "outbox")
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags" / "weekly_funnel_report.py")).get_dag("weekly_funnel_report")
    for t in dag.tasks:
        t.retries = 0  # a failing check must fail the run now, not after the production retries
    return dag


def test_the_monday_run_reports_last_week_and_sends_it_once(report_dag, db_url, funnelflow_home):
    engine = make_engine(db_url)
    with engine.begin() as conn:
        add_lead(conn, 1)
        add_lead(conn, 2, merged_into=1)
        add_touch(conn, 1, at(16), "web_form")
        add_touch(conn, 2, at(15), "ad_form")
        add_stage(conn, 1, "mql", at(17))
        add_stage(conn, 2, "sql", at(18))
    for _ in range(2):  # a rerun of the same run sends nothing twice
        run = report_dag.test(logical_date=MONDAY_RUN)
        assert run.state == "success"
    assert (funnelflow_home / "reports" / "2026-W47" / "report.html").is_file()
    stakeholders = len(load_reports_config().weekly_funnel_report.stakeholders)
    assert len(list((funnelflow_home / "outbox").glob("*.eml"))) == stakeholders
    with engine.connect() as conn:
        keys = conn.execute(sa.select(email_sends.c.message_key, email_sends.c.status)).all()
        weeks = conn.execute(sa.select(metrics_weeks.c.iso_week)).scalars().all()
    assert keys == [("weekly_funnel_report:2026-W47", "sent")] * stakeholders
    assert "2026-W47" in weeks and "2026-W48" not in weeks  # the week before the run, not the wall clock's
    engine.dispose()


def test_a_failing_check_fails_the_run_and_nothing_is_sent(report_dag, db_url, funnelflow_home):
    engine = make_engine(db_url)
    with engine.begin() as conn:
        add_lead(conn, 1)
        add_touch(conn, 1, at(16), "web_form")
        add_stage(conn, 1, "sql", at(18))
    compute(engine, "2026-W46")  # computed before: the run keeps its rows
    with engine.begin() as conn:
        # Credit for a conversion that never happened, in a week the run does not recompute.
        conn.execute(
            attribution_weekly.insert().values(
                week_start=date(2026, 11, 9),
                model="linear",
                conversion="sql",
                channel="web",
                campaign="x",
                credit=0.5,
            )
        )
    run = report_dag.test(logical_date=MONDAY_RUN)
    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["check_attribution_credits_sum_to_one"] == "failed"
    assert states["check_counts_not_negative"] == "success"
    assert states["send_report"] != "success"
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(email_sends)).scalar_one() == 0
    # Only operations hear about it (the failure alert); no stakeholder gets a report.
    subjects = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Subject"]
        for p in (funnelflow_home / "outbox").glob("*.eml")
    ]
    assert subjects and not [s for s in subjects if s.startswith("Weekly funnel")]
    assert not (funnelflow_home / "reports" / "2026-W47").exists()
    engine.dispose()
