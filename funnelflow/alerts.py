"""Alerts to operations: what failed, where to look, and never who it was about."""

from __future__ import annotations

from dataclasses import dataclass

from funnelflow import settings


@dataclass(frozen=True)
class OpsAlert:
    subject: str
    body: str


def failure_alert(
    *,
    dag_id: str,
    task_id: str | None,
    run_id: str,
    try_number: int | None,
    log_url: str | None,
    error_type: str | None,
) -> OpsAlert:
    where = f"{dag_id}.{task_id}" if task_id else dag_id
    lines = [
        f"DAG:    {dag_id}",
        f"Task:   {task_id or '-'}",
        f"Run:    {run_id}",
        f"Try:    {try_number if try_number is not None else '-'}",
        f"Error:  {error_type or '-'}",
        f"Log:    {log_url or '-'}",
        "",
        "The log has the details. This alert carries no personal data by design.",
    ]
    return OpsAlert(subject=f"[funnelflow] failed: {where} ({run_id})", body="\n".join(lines))


def ops_address() -> str:
    return settings.env("FUNNELFLOW_OPS_EMAIL", "ops@example.com") or "ops@example.com"
