"""The one resolver from the `marketing_db` connection to a working SQLAlchemy URL.

The connection can be written two ways, as Airflow allows for any connection:
a URL (``sqlite:////abs/path.db``, ``postgresql://user@host:5432/db``) or
Airflow's JSON form (``{"conn_type": "postgres", "host": ..., "schema": ...}``).
The command line reads ``AIRFLOW_CONN_MARKETING_DB`` itself (no Airflow needed);
DAG tasks and the plugin hand over the fields of the Airflow connection. Both
arrive here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import URL, make_url

from funnelflow import settings

CONN_ID = "marketing_db"
CONN_ENV = "AIRFLOW_CONN_MARKETING_DB"

# Airflow conn types (and bare URL schemes) to the SQLAlchemy driver we use.
_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgresql+psycopg2": "postgresql+psycopg",
    "sqlite": "sqlite",
}


class MarketingDbConfigError(ValueError):
    """The marketing_db connection is malformed; the message names it and hides the password."""


def default_sqlite_url() -> str:
    return f"sqlite:///{settings.funnelflow_home() / 'marketing.db'}"


def redact(url: str | URL) -> str:
    """The URL as text with its password hidden, for error messages and logs."""
    try:
        return (
            make_url(str(url)).render_as_string(hide_password=True)
            if isinstance(url, str)
            else url.render_as_string(hide_password=True)
        )
    except Exception:
        return "<unparseable URL>"


def url_from_fields(fields: Mapping[str, Any]) -> URL:
    """Build the URL from Airflow connection fields (JSON form or a Connection's attributes)."""
    conn_type = str(fields.get("conn_type") or "").lower()
    driver = _DRIVERS.get(conn_type)
    if driver is None:
        raise MarketingDbConfigError(
            f"connection {CONN_ID!r}: conn_type {conn_type!r} is not supported; use 'postgres' or 'sqlite'"
        )
    extra = fields.get("extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra) if extra.strip() else {}
    if driver == "sqlite":
        # Airflow's sqlite connections keep the file path in host (or schema).
        path = fields.get("host") or fields.get("schema") or ""
        if not path:
            raise MarketingDbConfigError(
                f"connection {CONN_ID!r}: a sqlite connection needs the file path in host"
            )
        return make_url(f"sqlite:///{path}")
    port = fields.get("port")
    return URL.create(
        driver,
        username=fields.get("login") or None,
        password=fields.get("password") or None,
        host=fields.get("host") or None,
        port=int(port) if port not in (None, "") else None,
        database=fields.get("schema") or None,
        query={
            k: str(v)
            for k, v in extra.items()
            if k in {"sslmode", "application_name", "connect_timeout", "options"}
        },
    )


def url_from_string(raw: str) -> URL:
    """Parse the URL or JSON form of the connection as written in the environment."""
    text = raw.strip()
    if text.startswith("{"):
        try:
            fields = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MarketingDbConfigError(
                f"{CONN_ENV} is not valid JSON: {exc.msg} at column {exc.colno}"
            ) from None
        if not isinstance(fields, dict):
            raise MarketingDbConfigError(f"{CONN_ENV} JSON must be an object")
        return url_from_fields(fields)
    try:
        url = make_url(text)
    except Exception:
        raise MarketingDbConfigError(f"{CONN_ENV} is not a database URL: {redact(text)}") from None
    driver = _DRIVERS.get(url.drivername)
    if driver is None:
        raise MarketingDbConfigError(
            f"{CONN_ENV}: scheme {url.drivername!r} is not supported ({redact(url)}); use postgresql:// or sqlite:///"
        )
    return url.set(drivername=driver)


def resolve_marketing_db_url(environ: Mapping[str, str] | None = None) -> URL:
    """The marketing database URL from the environment, or the default SQLite file."""
    environ = os.environ if environ is None else environ
    raw = environ.get(CONN_ENV)
    if raw:
        return url_from_string(raw)
    return make_url(default_sqlite_url())
