"""Alerts name the DAG, task, run and log, nothing about a person, and go out once per topic and day."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from funnelflow.alerts import breaker_alert, failure_alert, rules_rejected_alert
from funnelflow.email.transports import Accepted

RUN_AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_failure_alert_carries_ids_and_the_log_link_only():
    alert = failure_alert(
        dag_id="lead_ingestion",
        task_id="ingest_files",
        run_id="scheduled__2026-11-23T12:00:00+00:00",
        try_number=3,
        log_url="http://airflow:8080/dags/lead_ingestion/runs/x/tasks/ingest_files",
        error_type="ValueError",
    )
    assert "lead_ingestion.ingest_files" in alert.subject
    for expected in (
        "scheduled__2026-11-23T12:00:00+00:00",
        "ValueError",
        "http://airflow:8080/dags/lead_ingestion",
        "Try:    3",
    ):
        assert expected in alert.body


def test_callback_builds_the_alert_from_airflow_context_without_the_error_text(monkeypatch):
    import funnelflow_airflow.common as common

    sent = []
    monkeypatch.setattr(common, "send_ops_alert", lambda alert, as_of: sent.append(alert))
    ti = SimpleNamespace(
        dag_id="welcome_emails", task_id="send", run_id="r1", try_number=1, log_url="http://x/log"
    )
    # An exception message might quote data; the alert carries only its type.
    common.alert_operations(
        {
            "ti": ti,
            "dag_run": SimpleNamespace(run_id="r1", dag_id="welcome_emails"),
            "exception": ValueError("bad row for jane@example.com"),
        }
    )
    (alert,) = sent
    assert "ValueError" in alert.body and "jane@example.com" not in alert.body + alert.subject


# --- once a day per topic -------------------------------------------------------------------------


class RecordingTransport:
    name = "recording"

    def __init__(self) -> None:
        self.subjects: list[str] = []

    def deliver(self, body: dict) -> Accepted:
        self.subjects.append(body["subject"])
        return Accepted(message_id=str(len(self.subjects)))


def test_same_alert_twice_in_a_day_is_sent_once_and_again_the_next_day(engine):
    from funnelflow.email.ops import alert_once_per_day

    transport = RecordingTransport()
    alert = rules_rejected_alert("config/scoring.yaml, line 3: unknown field", "v7")

    def send(at: datetime) -> bool:
        return alert_once_per_day(engine, transport, alert, alert.topic, at)

    assert send(RUN_AT) is True
    assert send(RUN_AT + timedelta(minutes=5)) is False  # the next 5-minute run, same day
    assert send(RUN_AT + timedelta(hours=14, minutes=59)) is False  # 23:59 the same day
    assert send(RUN_AT + timedelta(days=1)) is True
    assert send(RUN_AT + timedelta(days=1, hours=1)) is False
    assert len(transport.subjects) == 2
    assert all("rules rejected" in s for s in transport.subjects)


def test_topics_are_counted_apart(engine):
    from funnelflow.email.ops import alert_once_per_day
    from funnelflow.email.policy import BreakerState

    transport = RecordingTransport()
    breaker = breaker_alert(
        BreakerState(tripped=True, sends=400, bounce_rate=0.08, spam_rate=0.0, reason="bounce rate 8%"),
        RUN_AT,
    )
    rules = rules_rejected_alert("bad", "v1")
    failed = failure_alert(
        dag_id="d", task_id="t", run_id="r", try_number=1, log_url=None, error_type="ValueError"
    )
    for alert in (breaker, rules, failed, breaker, rules, failed):
        alert_once_per_day(engine, transport, alert, alert.topic, RUN_AT)
    assert len(transport.subjects) == 3
    assert len({breaker.topic, rules.topic, failed.topic}) == 3


def test_every_dag_alert_goes_through_the_daily_limit(marketing_db_env, funnelflow_home, monkeypatch):
    """The Airflow side's one way to alert: a second failure of the same task that day mails nobody."""
    from funnelflow_airflow import common

    monkeypatch.setenv("FUNNELFLOW_EMAIL_TRANSPORT", "outbox")
    ti = SimpleNamespace(dag_id="lead_ingestion", task_id="ingest", try_number=1, log_url="http://x/log")
    run = SimpleNamespace(run_id="r1", dag_id="lead_ingestion", run_after=RUN_AT)
    for run_after in (RUN_AT, RUN_AT + timedelta(minutes=10), RUN_AT + timedelta(days=1)):
        run.run_after = run_after
        common.alert_operations({"ti": ti, "dag_run": run, "exception": ValueError("x")})
    assert len(list((funnelflow_home / "outbox").rglob("*.eml"))) == 2
    # The rules alert used to skip the limit; now it shares it.
    assert common.send_ops_alert(rules_rejected_alert("bad", "v1"), RUN_AT) is True
    assert common.send_ops_alert(rules_rejected_alert("bad", "v1"), RUN_AT) is False


def test_alert_is_sent_even_when_the_marketing_database_is_down(funnelflow_home, monkeypatch, tmp_path):
    from funnelflow_airflow import common

    monkeypatch.setenv("FUNNELFLOW_EMAIL_TRANSPORT", "outbox")
    monkeypatch.setenv("AIRFLOW_CONN_MARKETING_DB", f"sqlite:///{tmp_path / 'never-migrated.db'}")
    assert common.send_ops_alert(rules_rejected_alert("bad", "v1"), RUN_AT) is True
    assert len(list((funnelflow_home / "outbox").rglob("*.eml"))) == 1
