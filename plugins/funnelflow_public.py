"""funnelflow in Airflow's api-server (one-machine setup).

- The public app (forms, SendGrid events, unsubscribe) under /funnelflow.
- The Funnel page under /funnelflow-ui, behind Airflow's own login, with a
  "Funnel" entry in the Airflow navigation (an external view, Airflow 3.1+).
"""

from airflow.plugins_manager import AirflowPlugin

from funnelflow.web.app import MOUNT_PATH, create_app
from funnelflow_airflow.funnel_page import MOUNT_PATH as FUNNEL_PAGE_PATH
from funnelflow_airflow.funnel_page import create_funnel_page_app


class FunnelflowPublicApp(AirflowPlugin):
    name = "funnelflow_public"
    fastapi_apps = [
        {"app": create_app(), "url_prefix": MOUNT_PATH, "name": "funnelflow public app"},
        {"app": create_funnel_page_app(), "url_prefix": FUNNEL_PAGE_PATH, "name": "funnelflow Funnel page"},
    ]
    external_views = [
        {
            "name": "Funnel",
            "href": f"{FUNNEL_PAGE_PATH}/",
            "destination": "nav",
            "url_route": "funnel",
        }
    ]
