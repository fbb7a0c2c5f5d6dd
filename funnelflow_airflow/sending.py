"""The email transport as a DAG task sees it: FUNNELFLOW_EMAIL_TRANSPORT, and `sendgrid_default` for SendGrid.

The connection is read in ``funnelflow_airflow.connections``; the domain code
is given the key and base URL, never the connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from funnelflow.email.transports import Transport


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
