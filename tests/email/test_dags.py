"""The three DAGs end to end through Airflow (dag.test), on SQLite."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from funnelflow.db.engine import make_engine
from funnelflow.db.schema import email_sends, leads, suppressions, touchpoints
from funnelflow.email.events import store_events
from funnelflow.identity import email_hash
from tests.factories import REPO, T0, add_consent, add_lead, add_send
from tests.fakes.sendgrid_suppressions import SuppressionStandIn
from tests.fakes.sendgrid_webhook import event

RUN_AT = T0 + timedelta(days=3)


def _dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags" / f"{dag_id}.py")).get_dag(dag_id)


def _states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def _engaged_events() -> int:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.uri == "funnelflow://leads/engaged")
            .count()
        )


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_email_engagement_dag_writes_touchpoints_settles_and_announces(
    airflow_db, marketing_db_env, funnelflow_home
):
    engine = make_engine(marketing_db_env)
    with engine.begin() as conn:
        lead = add_lead(conn, "jane@example.com")
        sent = add_send(conn, lead, "jane@example.com", key="n:1", status="claimed")
        stale = add_send(
            conn, lead, "jane@example.com", key="n:2", status="claimed", claimed_at=RUN_AT - timedelta(days=5)
        )
    store_events(
        engine,
        [
            event("delivered", 1, "jane@example.com", send_id=sent, at=int(T0.timestamp())),
            event("open", 2, "jane@example.com", send_id=sent, at=int(T0.timestamp()) + 600),
        ],
    )
    dag = _dag("email_engagement")
    before = _engaged_events()
    run = dag.test(logical_date=RUN_AT)
    assert run.state == "success" and _states(run)["announce_engagement"] == "success"
    assert _engaged_events() == before + 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(touchpoints.c.touch_type)).scalars().all() == ["email_open"]
        assert dict(conn.execute(sa.select(email_sends.c.id, email_sends.c.status)).all()) == {
            sent: "delivered",
            stale: "unsettled",
        }
    # Nothing new: the announcement is skipped and no asset event is emitted.
    run = dag.test(logical_date=RUN_AT + timedelta(minutes=10))
    assert _states(run)["announce_engagement"] == "skipped"
    assert _engaged_events() == before + 1
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_suppression_sync_dag_skips_without_sendgrid_and_syncs_with_it(
    airflow_db, marketing_db_env, funnelflow_home, monkeypatch
):
    monkeypatch.delenv("AIRFLOW_CONN_SENDGRID_DEFAULT", raising=False)
    dag = _dag("sendgrid_suppression_sync")
    run = dag.test(logical_date=RUN_AT)
    assert _states(run) == {"pull_suppressions": "skipped"}

    standin = SuppressionStandIn()
    url = standin.start()
    try:
        standin.add(
            "bounces",
            email="gone@example.com",
            created=int((RUN_AT + timedelta(days=1) - timedelta(hours=30)).timestamp()),
            reason="550",
            status="5.1.1",
        )
        monkeypatch.setenv(
            "AIRFLOW_CONN_SENDGRID_DEFAULT",
            json.dumps({"conn_type": "email", "host": url, "password": standin.api_key}),
        )
        run = dag.test(logical_date=RUN_AT + timedelta(days=1))
        assert _states(run) == {"pull_suppressions": "success"}
    finally:
        standin.stop()
    engine = make_engine(marketing_db_env)
    with engine.connect() as conn:
        assert conn.execute(sa.select(suppressions.c.email_hash, suppressions.c.reason)).all() == [
            (email_hash("gone@example.com"), "bounce")
        ]
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_forget_person_dag_by_hash(airflow_db, marketing_db_env, funnelflow_home):
    engine = make_engine(marketing_db_env)
    with engine.begin() as conn:
        lead = add_lead(conn, "jane@example.com")
        add_consent(conn, lead, "granted", client_ip="198.51.100.4")
    outbox = funnelflow_home / "outbox"
    outbox.mkdir(parents=True)
    (outbox / "x.eml").write_text("To: jane@example.com\nSubject: hi\n\nhi")
    dag = _dag("forget_person")
    run = dag.test(logical_date=RUN_AT, run_conf={"person": email_hash("jane@example.com")})
    assert run.state == "success"
    with engine.connect() as conn:
        row = conn.execute(sa.select(leads.c.email, leads.c.erased_at).where(leads.c.id == lead)).one()
        reasons = conn.execute(sa.select(suppressions.c.reason)).scalars().all()
    assert row.email is None and row.erased_at is not None and reasons == ["erased"]
    assert not (outbox / "x.eml").exists()
    engine.dispose()


def test_forget_person_param_refuses_an_address():
    from airflow.sdk.exceptions import ParamValidationError

    param = _dag("forget_person").params.get_param("person")
    with pytest.raises(ParamValidationError):
        param.resolve(value="jane@example.com")
    assert param.resolve(value=email_hash("jane@example.com")) == email_hash("jane@example.com")
    assert param.resolve(value="42") == "42"
