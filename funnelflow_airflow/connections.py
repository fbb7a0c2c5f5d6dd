"""Every Airflow connection funnelflow reads, turned into the plain settings the domain code takes.

The only place that reads a connection's fields and builds a URL from them: a
DAG task asks here (``sendgrid_settings()``, ``enrichment_api()``,
``ad_platform_endpoint(source)``, ``lead_inbox()``) and hands the result to
``funnelflow``. Connections resolve the Airflow way: ``AIRFLOW_CONN_<ID>``
environment variables (URI or JSON), a secrets backend, or the metadata
database. The marketing database (``marketing_db``) is resolved in
``funnelflow_airflow.db``, because the CLI and the public app read it too.

HTTP connections follow Airflow's HTTP connection: ``host`` is the API's host or
its full base URL, ``schema`` the scheme when the host has none (default
``https``), ``port`` optional, ``password`` the token, ``extra`` may set
``timeout`` (seconds) and ``attempts``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from funnelflow.service_settings import HttpApiSettings, SendGridSettings

if TYPE_CHECKING:
    from airflow.sdk import Connection, ObjectStoragePath

    from funnelflow.ingest.adplatform import AdPlatformEndpoint
    from funnelflow.ingest.config import AdPlatformSource
    from funnelflow.webinars.platform import WebinarPlatformEndpoint

SENDGRID_CONN_ID = "sendgrid_default"
ENRICHMENT_CONN_ID = "enrichment_api"  # unless FUNNELFLOW_ENRICHMENT_CONN_ID names another


class ConnectionProblem(ValueError):
    """A connection exists but cannot be used as it is; the message says which field to fix."""


def get_connection(conn_id: str) -> Connection | None:
    """The Airflow connection, or None when it is defined nowhere (env var, secrets backend, metadata DB)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def http_base_url(conn: Connection) -> str:
    """The API base URL of an HTTP connection: a host that is a URL as it is, else scheme://host[:port]."""
    host = (conn.host or "").strip().rstrip("/")
    if not host:
        raise ConnectionProblem(
            f"connection {conn.conn_id!r} has no host: set it to the API's base URL (https://api.example.com)"
        )
    if "://" not in host:
        host = f"{conn.schema or 'https'}://{host}"
    if conn.port and host.count(":") < 2:
        host = f"{host}:{conn.port}"
    return host


def http_api_settings(conn: Connection) -> HttpApiSettings:
    """An HTTP connection as settings: base URL, token, and ``timeout``/``attempts`` from its extra."""
    base_url = http_base_url(conn)
    extra: dict[str, Any] = conn.extra_dejson or {}
    try:
        timeout, attempts = float(extra.get("timeout", 30)), int(extra.get("attempts", 4))
    except (TypeError, ValueError) as exc:
        raise ConnectionProblem(
            f"connection {conn.conn_id!r}: extra timeout and attempts must be numbers ({exc})"
        ) from None
    return HttpApiSettings(base_url=base_url, token=conn.password or "", timeout=timeout, attempts=attempts)


def sendgrid_settings(conn_id: str = SENDGRID_CONN_ID) -> SendGridSettings | None:
    """SendGrid's key and API base from ``sendgrid_default``; None when the connection or its key is missing.

    A host that is a full URL (``http://127.0.0.1:8099``) replaces SendGrid's API
    base; a bare host name (the email connection's usual SMTP host) does not.
    """
    from funnelflow.email.transports import sendgrid_base_url_from_host

    conn = get_connection(conn_id)
    if conn is None or not conn.password:
        return None
    return SendGridSettings(api_key=conn.password, base_url=sendgrid_base_url_from_host(conn.host))


def enrichment_api() -> HttpApiSettings:
    """The `http` enrichment provider's API (FUNNELFLOW_ENRICHMENT_CONN_ID, default ``enrichment_api``)."""
    from funnelflow import settings

    conn_id = settings.env("FUNNELFLOW_ENRICHMENT_CONN_ID", ENRICHMENT_CONN_ID) or ENRICHMENT_CONN_ID
    conn = get_connection(conn_id)
    if conn is None:
        raise ConnectionProblem(
            f"FUNNELFLOW_ENRICHMENT_PROVIDER=http needs the Airflow connection {conn_id!r} "
            "(host = API base URL, password = key)"
        )
    return http_api_settings(conn)


def ad_platform_endpoint(source: AdPlatformSource) -> AdPlatformEndpoint | None:
    """The lead-form endpoint of one ad-platform source, or None when its connection is not defined."""
    from funnelflow.ingest.adplatform import AdPlatformEndpoint

    conn = get_connection(source.conn_id)
    if conn is None:
        return None
    api = http_api_settings(conn)
    return AdPlatformEndpoint(
        base_url=api.base_url,
        token=api.token,
        form_id=source.form_id,
        page_size=source.page_size,
        timeout=api.timeout,
        attempts=api.attempts,
    )


def webinar_platform_endpoint(conn_id: str) -> WebinarPlatformEndpoint | None:
    """A webinar platform's participants API (host = API base URL, password = token), or None if undefined."""
    from funnelflow.webinars.platform import WebinarPlatformEndpoint

    conn = get_connection(conn_id)
    if conn is None:
        return None
    api = http_api_settings(conn)
    return WebinarPlatformEndpoint(
        base_url=api.base_url, token=api.token, timeout=api.timeout, attempts=api.attempts
    )


def lead_inbox() -> ObjectStoragePath:
    """The lead inbox (FUNNELFLOW_INBOX_URL, default FUNNELFLOW_HOME/inbox/leads) as an ObjectStoragePath.

    Local, S3 or SFTP alike: Airflow's object storage reads FUNNELFLOW_INBOX_CONN_ID
    itself when it is set.
    """
    from airflow.sdk import ObjectStoragePath

    from funnelflow import settings

    url = settings.env("FUNNELFLOW_INBOX_URL") or f"file://{settings.funnelflow_home() / 'inbox' / 'leads'}"
    return ObjectStoragePath(url, conn_id=settings.env("FUNNELFLOW_INBOX_CONN_ID"))
