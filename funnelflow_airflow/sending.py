"""The email transport and send options as a DAG task sees them.

The connection is read in ``funnelflow_airflow.connections``; the domain code
is given the key and base URL, never the connection.

The options: every claim is stamped with the task (``dag/task/run``), so a retry
of the same task settles what its earlier tries left claimed; a run that leaves
claims neither sent nor failed fails without retrying (``UnsettledSends``), which
alerts operations through the failure callback.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from airflow.sdk.exceptions import AirflowFailException

if TYPE_CHECKING:
    from funnelflow.email.send import SendOptions
    from funnelflow.email.transports import Transport

RUN_KEY_MAX = 255  # email_sends.claimed_by


class UnsettledSends(AirflowFailException):
    """Messages this task claimed are neither sent nor failed: a retry cannot send them (at most once)."""


def email_transport() -> Transport:
    from funnelflow import settings
    from funnelflow.email.transports import transport_from_settings
    from funnelflow_airflow.connections import SENDGRID_CONN_ID, ConnectionProblem, sendgrid_settings

    if (settings.env("FUNNELFLOW_EMAIL_TRANSPORT", "outbox") or "").strip().lower() != "sendgrid":
        return transport_from_settings()
    sendgrid = sendgrid_settings()
    if sendgrid is None:
        raise ConnectionProblem(
            f"FUNNELFLOW_EMAIL_TRANSPORT=sendgrid needs the Airflow connection {SENDGRID_CONN_ID!r} "
            "with the API key in its password"
        )
    return transport_from_settings(sendgrid.api_key, sendgrid.base_url)


def run_key(dag_id: str, task_id: str, run_id: str, map_index: int = -1) -> str:
    """``dag/task/run`` (``/map index`` when mapped): the same for every try of one task instance."""
    key = f"{dag_id}/{task_id}/{run_id}" + (
        f"/{map_index}" if map_index is not None and map_index >= 0 else ""
    )
    if len(key) <= RUN_KEY_MAX:
        return key
    return f"{key[: RUN_KEY_MAX - 41]}#{hashlib.sha1(key.encode()).hexdigest()}"


def send_options() -> SendOptions:
    """SendOptions from settings, stamped with the running task instance and whether this is a later try."""
    from airflow.sdk import get_current_context

    from funnelflow.email.send import SendOptions

    ti = get_current_context()["ti"]
    return SendOptions.from_settings(
        run_key=run_key(ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1)),
        retry=(ti.try_number or 1) > 1,
    )


@contextmanager
def unsettled_sends_fail_the_task() -> Iterator[None]:
    """Turn ``SendingIncomplete`` into a failure without retry: the failure callback alerts operations."""
    from funnelflow.email.send import SendingIncomplete

    try:
        yield
    except SendingIncomplete as exc:
        raise UnsettledSends(str(exc)) from exc
