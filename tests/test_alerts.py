"""The failure alert names the DAG, task, run and log, and nothing about a person."""

from types import SimpleNamespace

from funnelflow.alerts import failure_alert


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
    monkeypatch.setattr(common, "send_ops_alert", sent.append)
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
