"""Defaults every funnelflow DAG uses: owner, tags, retries, the failure alert."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

START_DATE = datetime(2026, 1, 1)
OWNER = "marketing-ops"

log = logging.getLogger(__name__)


class Tag(StrEnum):
    """The only tags a DAG may carry, so the UI filters by what a pipeline touches."""

    INGEST = "ingest"
    QUALIFY = "qualify"
    EMAIL = "email"
    SALES = "sales"
    METRICS = "metrics"
    PRIVACY = "privacy"
    SENDS_EMAIL = "sends-email"  # the DAG can reach people's inboxes


def alert_operations(context: dict[str, Any]) -> None:
    """Failure callback: tell operations which DAG, task and run failed, with the log link.

    The alert names ids and the error class only, never a person: task errors
    in funnelflow carry no addresses or names, but we do not rely on that here.
    """
    from funnelflow.alerts import failure_alert

    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    exc = context.get("exception")
    alert = failure_alert(
        dag_id=getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", "?"),
        task_id=getattr(ti, "task_id", None),
        run_id=getattr(dag_run, "run_id", None) or getattr(ti, "run_id", "?"),
        try_number=getattr(ti, "try_number", None),
        log_url=getattr(ti, "log_url", None),
        error_type=type(exc).__name__ if exc else None,
    )
    send_ops_alert(alert)


def send_ops_alert(alert) -> None:
    """Deliver an alert to operations as a transactional email through funnelflow's sending layer.

    Same transport as every other email (FUNNELFLOW_EMAIL_TRANSPORT; SendGrid via
    `sendgrid_default`). A callback never raises.
    """
    try:
        from funnelflow.email.ops import send_ops_alert as deliver
        from funnelflow_airflow.sending import email_transport

        deliver(email_transport(), alert)
    except Exception as exc:  # the failure being reported matters more than the alert's own
        log.warning("ops alert not delivered (%s): %s", type(exc).__name__, alert.subject)


def default_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "owner": OWNER,
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "on_failure_callback": alert_operations,
    }
    args.update(overrides)
    return args


def run_as_of(data_interval_end: datetime | None = None) -> datetime:
    """The time a run computes "as of": its data interval end, else (asset-triggered or manual runs) run_after.

    Never the wall clock, so a rerun of the same run computes the same answer.
    """
    from airflow.sdk import get_current_context

    return data_interval_end or get_current_context()["dag_run"].run_after


def lead_inbox():
    """The lead inbox (FUNNELFLOW_INBOX_URL, default FUNNELFLOW_HOME/inbox/leads) as an ObjectStoragePath.

    Local, S3 or SFTP alike, through FUNNELFLOW_INBOX_CONN_ID when set.
    """
    from airflow.sdk import ObjectStoragePath

    from funnelflow import settings

    url = settings.env("FUNNELFLOW_INBOX_URL") or f"file://{settings.funnelflow_home() / 'inbox' / 'leads'}"
    return ObjectStoragePath(url, conn_id=settings.env("FUNNELFLOW_INBOX_CONN_ID"))
