"""The one public app: standalone under /funnelflow, and mounted by the Airflow plugin."""

from fastapi.testclient import TestClient

from funnelflow.web.app import MOUNT_PATH, create_standalone_app


def test_standalone_app_serves_under_the_mount_path(engine):
    client = TestClient(create_standalone_app(engine))
    assert client.get(f"{MOUNT_PATH}/health").json() == {"status": "ok"}
    assert client.get("/health").status_code == 404
    assert client.get(f"{MOUNT_PATH}/docs").status_code == 404  # no API docs on the public surface


def test_plugin_mounts_the_same_app_in_airflow():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "plugins" / "funnelflow_public.py"
    spec = importlib.util.spec_from_file_location("funnelflow_public_plugin", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (entry,) = module.FunnelflowPublicApp.fastapi_apps
    assert entry["url_prefix"] == MOUNT_PATH
    client = TestClient(entry["app"])
    assert client.get("/health").json() == {"status": "ok"}
