"""Messages to operations (DAG failures, the circuit breaker), sent as transactional email.

They go to FUNNELFLOW_OPS_EMAIL through the same rendering and transport as
every other email, but without the ledger or the policy check: the failure
being reported may be the marketing database itself, and operations must hear
about it. They carry no personal data (see ``funnelflow.alerts``).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from funnelflow.alerts import OpsAlert, ops_address
from funnelflow.db.state import get_state, put_state
from funnelflow.email import render
from funnelflow.email.send import sender_address
from funnelflow.email.transports import Accepted, Transport


def ops_alert_body(alert: OpsAlert, to: str | None = None) -> dict:
    rendered = render.render("ops_alert", {"alert_subject": alert.subject, "alert_body": alert.body})

    return {
        "personalizations": [{"to": [{"email": to or ops_address()}]}],
        "from": sender_address(),
        "subject": rendered.subject,
        "content": [
            {"type": "text/plain", "value": rendered.text},
            {"type": "text/html", "value": rendered.html},
        ],
    }


def send_ops_alert(transport: Transport, alert: OpsAlert, to: str | None = None) -> Accepted:
    """Deliver one alert to operations; raises the transport's error for the caller to catch."""
    return transport.deliver(ops_alert_body(alert, to))


def alert_once_per_day(
    engine: sa.Engine, transport: Transport, alert: OpsAlert, topic: str, as_of: datetime
) -> bool:
    """Send ``alert`` unless one on ``topic`` already went out for ``as_of``'s day.

    Runs every 5 minutes must not flood operations with the same alert.
    """
    key = f"email.ops_alert.{topic}"
    day = as_of.date().isoformat()
    with engine.begin() as conn:
        seen = get_state(conn, key)
        if seen and seen.get("day") == day:
            return False
        send_ops_alert(transport, alert)
        put_state(conn, key, {"day": day})
    return True
