"""lead_qualification end to end through Airflow (dag.test):
a demo request becomes SQL and announces it once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from funnelflow.db.engine import make_engine
from funnelflow.metrics.origins import pending_changes
from tests.factories import AS_OF, REPO, count, touch
from tests.qualify.factories import add_lead, history, lead_row


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_lead_qualification_dag_scores_stages_and_announces_new_sqls_once(
    airflow_db, marketing_db_env, funnelflow_home
):
    engine = make_engine(marketing_db_env)
    demo = add_lead(
        engine,
        "Jane.Doe@Acme.example",
        first_name="JANE",
        last_name="doe",
        job_title="VP Marketing",
        phone="030 1234567",
        country="DE",
    )
    touch(engine, demo, "form_fill", 1, "https://www.example.com/demo")
    quiet = add_lead(engine, "someone@gmail.com")
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags" / "lead_qualification.py")).get_dag("lead_qualification")
    states = []
    for _ in range(2):  # the second is a rerun of the same interval: nothing changes, nothing announced
        run = dag.test(logical_date=AS_OF)
        assert run.state == "success"
        states.append({ti.task_id: ti.state for ti in run.get_task_instances()})
    assert states[0]["announce_sales_qualified"] == "success"
    assert states[1]["announce_sales_qualified"] == "skipped"
    assert states[0]["refresh_metrics_origins"] == states[1]["refresh_metrics_origins"] == "success"
    with engine.connect() as conn:  # the run left the maintained origins current: nothing waits
        assert pending_changes(conn) == 0
        origins = conn.execute(sa.text("select count(*) from metrics_lead_origin")).scalar_one()
        touched = conn.execute(sa.text("select count(distinct lead_id) from touchpoints")).scalar_one()
        assert origins == touched > 0
    row = lead_row(engine, demo)
    assert (row.lifecycle_stage, row.seniority, row.department, row.phone_e164, row.first_name) == (
        "sql",
        "vp",
        "marketing",
        "+49301234567",
        "Jane",
    )
    assert row.scored_at == AS_OF and row.score_breakdown["engagement"]["demo_request"] > 0
    assert [h[1:3] for h in history(engine)] == [("lead", "sql")]
    assert lead_row(engine, quiet).email_free is True
    assert count(engine, "lifecycle_history") == 1
    engine.dispose()
