"""Alerts to operations: every text in one place, what failed, where to look, never who it was about.

Each alert has a ``topic``. Alerts are sent at most once per topic and day of
the run's time (``funnelflow.email.ops.alert_once_per_day``), so a pipeline that
runs every 5 minutes and keeps hitting the same problem mails operations once a
day, not 288 times. A new day, or a different topic, mails again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from funnelflow import settings

if TYPE_CHECKING:
    from funnelflow.email.policy import BreakerState


@dataclass(frozen=True)
class OpsAlert:
    subject: str
    body: str
    topic: str  # de-duplication key: one alert per topic and day


def failure_alert(
    *,
    dag_id: str,
    task_id: str | None,
    run_id: str,
    try_number: int | None,
    log_url: str | None,
    error_type: str | None,
) -> OpsAlert:
    """A DAG task failed: ids, the error's class and the log link.

    Never the error's text: it may quote data.
    """
    where = f"{dag_id}.{task_id}" if task_id else dag_id
    lines = [
        f"DAG:    {dag_id}",
        f"Task:   {task_id or '-'}",
        f"Run:    {run_id}",
        f"Try:    {try_number if try_number is not None else '-'}",
        f"Error:  {error_type or '-'}",
        f"Log:    {log_url or '-'}",
        "",
        "The log has the details; the DAG's docs in the Airflow UI say what is safe to rerun.",
        "Further failures of this task today are not mailed again: the Airflow UI lists them.",
        "This alert carries no personal data by design.",
    ]
    return OpsAlert(
        subject=f"[funnelflow] failed: {where} ({run_id})",
        body="\n".join(lines),
        topic=f"failed.{where}",
    )


def breaker_alert(state: BreakerState, as_of: datetime) -> OpsAlert:
    """Marketing email paused by the circuit breaker (bounce or spam-report rate too high)."""
    body = "\n".join(
        [
            f"Marketing email is paused: {state.reason}.",
            f"Recent marketing sends: {state.sends}; bounce rate {state.bounce_rate:.2%}; "
            f"spam-report rate {state.spam_rate:.2%}.",
            "Transactional email (confirmations, alerts) still goes out.",
            "Sends resume by themselves once the rates of the last 7 days fall under the thresholds",
            "(FUNNELFLOW_BREAKER_BOUNCE_RATE, FUNNELFLOW_BREAKER_SPAM_RATE). "
            "Check the list source that caused it.",
            f"As of: {as_of.isoformat()}",
        ]
    )
    return OpsAlert(
        subject="[funnelflow] marketing email paused by the circuit breaker", body=body, topic="breaker"
    )


def rules_rejected_alert(problem: str, rules_version: str) -> OpsAlert:
    """A scoring or sales rules file failed validation; the last good rules keep running."""
    return OpsAlert(
        subject="[funnelflow] scoring rules rejected; the last good rules keep running",
        body=f"{problem}\n\nScoring used rules {rules_version}. Fix the file and check it "
        "with `python -m funnelflow rules check`.",
        topic="rules_rejected",
    )


def ops_address() -> str:
    return settings.env("FUNNELFLOW_OPS_EMAIL", "ops@example.com") or "ops@example.com"


def unassigned_items_alert(waiting: int, as_of: datetime) -> OpsAlert:
    """Sales items that no eligible rep could take (capacity, absence, or no matching rep)."""
    return OpsAlert(
        subject=f"[funnelflow] {waiting} sales item(s) have no eligible rep",
        body=(
            f"Routing as of {as_of.isoformat()} left {waiting} item(s) unassigned (capacity, absence "
            "or no matching rep). See `python -m funnelflow sales queue` and `sales explain LEAD_ID`; "
            "raise a capacity or add a rep in config/sales_team.yaml. The next run assigns them."
        ),
        topic="sales-unassigned",
    )
