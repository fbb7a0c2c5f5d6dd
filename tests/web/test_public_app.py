"""The one public app: standalone under /funnelflow, and mounted by the Airflow plugin."""

import logging

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from funnelflow.web.app import MOUNT_PATH, create_standalone_app
from tests.factories import REPO


def test_standalone_app_serves_under_the_mount_path(engine):
    client = TestClient(create_standalone_app(engine))
    assert client.get(f"{MOUNT_PATH}/health").json() == {"status": "ok"}
    assert client.get("/health").status_code == 404
    assert client.get(f"{MOUNT_PATH}/docs").status_code == 404  # no API docs on the public surface


def test_plugin_mounts_the_same_app_in_airflow():
    import importlib.util

    path = REPO / "plugins" / "funnelflow_public.py"
    spec = importlib.util.spec_from_file_location("funnelflow_public_plugin", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    [entry] = [app for app in module.FunnelflowPublicApp.fastapi_apps if app["url_prefix"] == MOUNT_PATH]
    client = TestClient(entry["app"])
    assert client.get("/health").json() == {"status": "ok"}


ADA = {"email": "Ada.Lovelace@Example.com", "first_name": "Augusta", "last_name": "Byron"}


def _refuse_landing_rows(engine) -> None:
    """Make every lead_landing insert fail inside the database, as a real constraint would."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # PostgreSQL's error then quotes the whole row: "DETAIL: Failing row contains (...)".
            conn.exec_driver_sql("alter table lead_landing add constraint refuse_all check (id < 0)")
        else:
            conn.exec_driver_sql(
                "create trigger refuse_all before insert on lead_landing"
                " begin select raise(abort, 'refused'); end"
            )


def test_an_unexpected_error_is_a_500_whose_log_holds_no_address_or_name(engine, caplog):
    _refuse_landing_rows(engine)
    client = TestClient(create_standalone_app(engine), client=("203.0.113.7", 50000))
    with caplog.at_level(logging.DEBUG):
        response = client.post(f"{MOUNT_PATH}/leads", json=ADA)
    assert response.status_code == 500 and response.json() == {"detail": "internal error"}
    assert response.headers["x-content-type-options"] == "nosniff"
    logged = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    assert "IntegrityError" in logged and "post_lead" in logged  # what failed, and where
    for personal in ("ada.lovelace", "example.com", "augusta", "byron", "203.0.113.7"):
        assert personal not in logged.lower()


def test_database_errors_never_quote_the_bound_parameters(engine):
    with pytest.raises(sa.exc.StatementError) as caught, engine.connect() as conn:
        conn.execute(
            sa.text("select * from no_such_table where email = :email"), {"email": "ada@example.com"}
        )
    assert "ada@example.com" not in str(caught.value)
    assert "hidden" in str(caught.value)  # SQLAlchemy says it left them out


def test_every_answer_carries_the_security_headers_and_no_server_name(engine):
    client = TestClient(create_standalone_app(engine), client=("203.0.113.7", 50000))
    answers = [
        client.post(f"{MOUNT_PATH}/leads", json={"email": "ada@example.com"}),  # 202
        client.post(f"{MOUNT_PATH}/leads", json={"email": 5}),  # 422
        client.get(f"{MOUNT_PATH}/health"),
        client.get("/nowhere"),  # outside the mount: 404 from the outer app
        client.get(f"{MOUNT_PATH}/unsubscribe/0.1.xyz"),  # the preference pages' 404
    ]
    assert [a.status_code for a in answers] == [202, 422, 200, 404, 404]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert "server" not in answer.headers


def test_serve_help_names_host_and_port_with_their_defaults(capsys):
    from funnelflow.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--host HOST address to listen on" in text and "(default: 127.0.0.1)" in text
    assert "--port PORT TCP port" in text and "(default: 8000)" in text


def test_serve_runs_uvicorn_without_access_log_or_server_header(marketing_db_env, monkeypatch):
    import uvicorn

    from funnelflow.cli import main

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs, app=app))
    assert main(["serve", "--port", "8123"]) == 0
    assert seen["server_header"] is False and seen["access_log"] is False
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 8123)


def test_a_new_public_form_inherits_the_text_checks():
    """Campaign offers, webinar registrations and sales pages subclass PublicForm: the same refusals."""
    from pydantic import ValidationError

    from funnelflow.web.inputs import PublicForm

    class WebinarRegistration(PublicForm):
        name: str
        session: str | None = None

    assert WebinarRegistration.model_validate({"name": " Ada "}).name == "Ada"
    for bad in ({"name": "Ada\x00"}, {"name": "Ada", "session": "a\r\nBcc: x"}, {"name": "A\ud800"}):
        with pytest.raises(ValidationError):
            WebinarRegistration.model_validate(bad)
    with pytest.raises(ValidationError):
        WebinarRegistration.model_validate({"name": "Ada", "extra": "x"})
