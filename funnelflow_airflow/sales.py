"""What the sales DAGs share: the team file (failing with file, line and fix), the CRM client from
`crm_default`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from funnelflow.sales.crm import CrmClient
    from funnelflow.sales.team import SalesTeam

CRM_CONN_ID = "crm_default"


def sales_team() -> SalesTeam:
    """The validated team file; a broken file fails the task with the file, the line and the fix."""
    from funnelflow.sales.team import load_team

    return load_team()


def crm_client() -> CrmClient | None:
    """The CRM API client from the HTTP connection `crm_default` (host = base URL, password = API key).

    None when the connection is not defined: the CRM then gets a CSV export per run.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    from funnelflow.sales.crm import CrmClient

    try:
        conn = BaseHook.get_connection(CRM_CONN_ID)
    except AirflowNotFoundException:
        return None
    host = conn.host or ""
    base = (
        host if "://" in host else f"{conn.schema or 'https'}://{host}{f':{conn.port}' if conn.port else ''}"
    )
    return CrmClient(base, conn.password or "")
