"""The email transport as a DAG task sees it: FUNNELFLOW_EMAIL_TRANSPORT, and `sendgrid_default` for SendGrid.

The connection's password is the API key; a host that is a full base URL
(``{"conn_type": "email", "host": "http://127.0.0.1:8099", "password": "SG..."}``)
replaces SendGrid's API base, for sandboxes and tests. The domain code never
reads connections: it is given the key and base URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from funnelflow.email.transports import Transport

SENDGRID_CONN_ID = "sendgrid_default"


def email_transport() -> Transport:
    from funnelflow import settings
    from funnelflow.email.transports import sendgrid_base_url_from_host, transport_from_settings

    if (settings.env("FUNNELFLOW_EMAIL_TRANSPORT", "outbox") or "").strip().lower() != "sendgrid":
        return transport_from_settings()
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(SENDGRID_CONN_ID)
    return transport_from_settings(conn.password, sendgrid_base_url_from_host(conn.host))
