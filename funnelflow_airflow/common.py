"""Defaults every funnelflow DAG uses: owner, tags, retries, the failure alert, masked task logs."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from funnelflow_airflow.task_logs import mask_task_logs

if TYPE_CHECKING:
    import sqlalchemy as sa

    from funnelflow.alerts import OpsAlert

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
    Once per task and day of the run's time, like every ops alert.
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
    as_of = context.get("data_interval_end") or getattr(dag_run, "run_after", None)
    send_ops_alert(alert, as_of)


def send_ops_alert(alert: OpsAlert, as_of: datetime | None, engine: sa.Engine | None = None) -> bool:
    """Deliver an alert to operations, at most once per topic and day of ``as_of`` (the run's time).

    Same transport as every other email (FUNNELFLOW_EMAIL_TRANSPORT; SendGrid via
    `sendgrid_default`). The day is counted in the marketing database; when that
    is what is broken (or no run time is known), the alert goes out anyway: a
    second alert beats a silent failure. Never raises; returns whether it was sent.
    """
    from funnelflow.email.ops import alert_once_per_day
    from funnelflow.email.ops import send_ops_alert as deliver
    from funnelflow_airflow.db import marketing_engine
    from funnelflow_airflow.sending import email_transport

    try:
        transport = email_transport()
        if as_of is not None:
            try:
                return alert_once_per_day(engine or marketing_engine(), transport, alert, alert.topic, as_of)
            except Exception as exc:  # the database (or the first try of the transport) failed
                log.warning("alert %r sent without de-duplication: %s", alert.topic, type(exc).__name__)
        deliver(transport, alert)
        return True
    except Exception as exc:  # the failure being reported matters more than the alert's own
        log.warning("ops alert not delivered (%s): %s", type(exc).__name__, alert.subject)
        return False


def retry_delay() -> timedelta:
    """FUNNELFLOW_TASK_RETRY_DELAY_S (default a minute); the stack test makes it short."""
    from funnelflow import settings

    seconds = settings.env_int("FUNNELFLOW_TASK_RETRY_DELAY_S", 60)
    if seconds < 0:
        raise ValueError(f"FUNNELFLOW_TASK_RETRY_DELAY_S must be 0 or more seconds, got {seconds}")
    return timedelta(seconds=seconds)


def default_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "owner": OWNER,
        "retries": 2,
        "retry_delay": retry_delay(),
        "retry_exponential_backoff": True,
        "on_failure_callback": alert_operations,
        # Before anything else in the task's process: no email address in its log (task_logs.py).
        "pre_execute": mask_task_logs,
    }
    args.update(overrides)
    return args


def run_as_of(data_interval_end: datetime | None = None) -> datetime:
    """The time a run computes "as of": its data interval end, else (asset-triggered, manual) run_after.

    Never the wall clock, so a rerun of the same run computes the same answer.
    """
    from airflow.sdk import get_current_context

    return data_interval_end or get_current_context()["dag_run"].run_after
