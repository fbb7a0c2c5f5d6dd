"""No email address in a task log: the masking of ``funnelflow.logmask``, installed in the task's process.

Airflow 3 runs a task in its own process, which sends every log event (its
stdlib records and the task runner's own structlog events, with the error a
task failed on) to the supervisor that writes the task log. Masking there, in
the task process, before an event leaves it, covers both kinds, whatever the
deployment writes logs to (a file, remote logging). ``default_args()`` runs
``mask_task_logs`` as every task's ``pre_execute`` hook: the first thing a
task does, on every try, before any funnelflow code logs.

Airflow's secrets masker is no help here: it hides known secret values, not
a pattern.
"""

from __future__ import annotations

from typing import Any


def mask_task_logs(context: Any = None) -> None:
    """Mask addresses in every log record and structlog event of this process from now on. Idempotent."""
    import structlog

    from funnelflow.logmask import install_log_masking, mask_structlog_event

    install_log_masking()
    # Airflow configures structlog once per process; loggers already bound share this same list, so the
    # processor is inserted in place, just before the renderer (the last processor).
    processors = structlog.get_config()["processors"]
    if mask_structlog_event not in processors:
        processors.insert(max(len(processors) - 1, 0), mask_structlog_event)
