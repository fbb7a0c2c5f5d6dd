"""The one resolver from the marketing_db connection to a SQLAlchemy URL."""

import json

import pytest
import sqlalchemy as sa

from funnelflow.db.engine import MarketingDbUnreachable, check_reachable, make_engine
from funnelflow.db.url import MarketingDbConfigError, resolve_marketing_db_url, url_from_fields


def test_default_is_sqlite_file_in_funnelflow_home(funnelflow_home):
    url = resolve_marketing_db_url({})
    assert url.drivername == "sqlite"
    assert url.database == str(funnelflow_home.resolve() / "marketing.db")
    assert funnelflow_home.is_dir()  # a missing FUNNELFLOW_HOME is created


@pytest.mark.parametrize(
    ("raw", "driver", "host", "database"),
    [
        ("postgresql://mk@db.internal:5433/crm", "postgresql+psycopg", "db.internal", "crm"),
        ("postgres://mk@db.internal/crm", "postgresql+psycopg", "db.internal", "crm"),
        ("postgresql+psycopg2://mk@h/crm", "postgresql+psycopg", "h", "crm"),
        ("sqlite:////var/lib/funnelflow/m.db", "sqlite", None, "/var/lib/funnelflow/m.db"),
    ],
)
def test_url_form(raw, driver, host, database):
    url = resolve_marketing_db_url({"AIRFLOW_CONN_MARKETING_DB": raw})
    assert (url.drivername, url.host, url.database) == (driver, host, database)


def test_airflow_json_form_with_postgres_conn_type():
    raw = json.dumps(
        {
            "conn_type": "postgres",
            "host": "pg",
            "login": "mk",
            "password": "s3cret",
            "port": 5432,
            "schema": "crm",
            "extra": {"sslmode": "require"},
        }
    )
    url = resolve_marketing_db_url({"AIRFLOW_CONN_MARKETING_DB": raw})
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "mk",
        "s3cret",
        "pg",
        5432,
        "crm",
    )
    assert url.query["sslmode"] == "require"


def test_fields_of_a_sqlite_connection():
    assert url_from_fields({"conn_type": "sqlite", "host": "/data/m.db"}).database == "/data/m.db"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("mysql://u:hunter2@h/db", "scheme 'mysql' is not supported"),
        ('{"conn_type": "postgres", ', "is not valid JSON"),
        ('{"conn_type": "mssql", "host": "h"}', "conn_type 'mssql' is not supported"),
    ],
)
def test_bad_connection_names_the_problem_and_hides_the_password(raw, expected):
    with pytest.raises(MarketingDbConfigError) as err:
        resolve_marketing_db_url({"AIRFLOW_CONN_MARKETING_DB": raw})
    assert expected in str(err.value)
    assert "hunter2" not in str(err.value)


def test_unreachable_database_is_one_clear_line_without_password():
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    engine = make_engine("postgresql://mk:hunter2@127.0.0.1:1/crm", connect_args={"connect_timeout": 2})
    with pytest.raises(MarketingDbUnreachable) as err:
        check_reachable(engine)
    message = str(err.value)
    assert "'marketing_db'" in message and "127.0.0.1:1/crm" in message
    assert "hunter2" not in message and "\n" not in message


def test_sqlite_runs_in_wal_mode_with_busy_timeout(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_unwritable_home_is_an_error_that_says_so(tmp_path, monkeypatch):
    import os

    from funnelflow.settings import HomeNotWritable, funnelflow_home

    if os.geteuid() == 0:
        # root writes anywhere; a path under a regular file cannot be created by anyone.
        blocker = tmp_path / "file"
        blocker.write_text("x")
        monkeypatch.setenv("FUNNELFLOW_HOME", str(blocker / "home"))
    else:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        monkeypatch.setenv("FUNNELFLOW_HOME", str(ro / "home"))
    with pytest.raises(HomeNotWritable, match="FUNNELFLOW_HOME"):
        funnelflow_home()


def test_engine_from_environment(marketing_db_env):
    engine = make_engine()
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from leads")).scalar() == 0
    engine.dispose()
