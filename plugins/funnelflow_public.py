"""Mounts funnelflow's public app in Airflow's api-server under /funnelflow (one-machine setup)."""

from airflow.plugins_manager import AirflowPlugin

from funnelflow.web.app import MOUNT_PATH, create_app


class FunnelflowPublicApp(AirflowPlugin):
    name = "funnelflow_public"
    fastapi_apps = [{"app": create_app(), "url_prefix": MOUNT_PATH, "name": "funnelflow public app"}]
