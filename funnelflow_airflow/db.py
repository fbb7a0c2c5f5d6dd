"""The marketing database as a DAG task sees it: the `marketing_db` connection, schema checked."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine


def marketing_db_url():
    """Resolve the `marketing_db` connection through Airflow (env var, secrets backend or metadata DB)."""
    from funnelflow.db.url import CONN_ENV, CONN_ID, resolve_marketing_db_url, url_from_fields

    if os.environ.get(CONN_ENV):
        # Read as written: Airflow's URI parser would mangle sqlite:////abs/path.
        return resolve_marketing_db_url()
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(CONN_ID)
    except AirflowNotFoundException:
        return resolve_marketing_db_url()  # not defined anywhere: the embedded SQLite default
    return url_from_fields(
        {
            "conn_type": conn.conn_type,
            "host": conn.host,
            "login": conn.login,
            "password": conn.password,
            "port": conn.port,
            "schema": conn.schema,
            "extra": conn.extra,
        }
    )


def marketing_engine() -> Engine:
    """An engine on the marketing database, checked reachable and at the migration head.

    A task never migrates: a schema behind the code fails the task at once with
    the one command to run.
    """
    from funnelflow.db.engine import check_reachable, make_engine
    from funnelflow.db.migrate import require_current_schema

    engine = make_engine(marketing_db_url())
    check_reachable(engine)
    require_current_schema(engine)
    return engine
