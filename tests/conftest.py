"""Test fixtures: a fresh marketing database per test, on SQLite and on PostgreSQL.

Every test that takes ``engine`` (or ``db_url``) runs twice, once per backend.
PostgreSQL is the server at FUNNELFLOW_TEST_PG; each test gets its own database
cloned from a migrated template and dropped afterwards. Without a server the
PostgreSQL cases skip, except under CI=true, where they fail the run.
Airflow's home and FUNNELFLOW_HOME point into a temporary folder per worker,
set before Airflow is imported, and are removed at the end.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent  # also tests.factories.REPO; tests/stack imports this one
_STATE = Path(tempfile.mkdtemp(prefix="funnelflow-tests-"))

# Must happen before anything imports airflow: it reads its config at import time.
os.environ["FUNNELFLOW_HOME"] = str(_STATE / "home")
os.environ["AIRFLOW_HOME"] = str(_STATE / "airflow")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ.pop("AIRFLOW_CONN_MARKETING_DB", None)
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402

from funnelflow.db import migrate  # noqa: E402
from funnelflow.db.engine import make_engine  # noqa: E402
from tests.factories import API_KEY, FakeClock  # noqa: E402

PG_URL = os.environ.get("FUNNELFLOW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# ../shared/specs beside the clone; FUNNELFLOW_SHARED_SPECS names another place (e.g. from a git worktree).
SHARED_SPECS = Path(os.environ.get("FUNNELFLOW_SHARED_SPECS", REPO.parent / "shared" / "specs"))


def _pg_admin_url() -> sa.URL:
    return sa.make_url(PG_URL).set(drivername="postgresql+psycopg")


def _pg_reason_unavailable() -> str | None:
    try:
        eng = sa.create_engine(_pg_admin_url(), connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(sa.text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:
        where = sa.make_url(PG_URL).render_as_string(hide_password=True)
        return f"PostgreSQL at {where} did not answer: {type(exc).__name__}"


_PG_UNAVAILABLE = _pg_reason_unavailable()


def pytest_sessionstart(session: pytest.Session) -> None:
    if IN_CI and _PG_UNAVAILABLE:
        raise pytest.UsageError(f"CI=true requires PostgreSQL: {_PG_UNAVAILABLE}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_STATE, ignore_errors=True)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


class PgDatabases:
    """Creates and drops scratch databases on the test server."""

    def __init__(self) -> None:
        self.admin = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        self.prefix = f"ff_{_worker()}_{os.getpid()}_"

    def url(self, name: str) -> str:
        return _pg_admin_url().set(database=name).render_as_string(hide_password=False)

    def create(self, template: str | None = None) -> str:
        name = f"{self.prefix}{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(
                sa.text(f'create database "{name}"' + (f' template "{template}"' if template else ""))
            )
        return name

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PgDatabases]:
    if _PG_UNAVAILABLE:
        pytest.skip(_PG_UNAVAILABLE)
    dbs = PgDatabases()
    yield dbs
    dbs.admin.dispose()


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One migrated database per backend, built once per worker and cloned per test."""
    templates: dict[str, str] = {}
    sqlite_file = tmp_path_factory.mktemp("template") / "template.db"
    eng = make_engine(f"sqlite:///{sqlite_file}")
    migrate.upgrade(eng)
    with eng.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    eng.dispose()
    templates["sqlite"] = str(sqlite_file)
    created: list[str] = []
    if not _PG_UNAVAILABLE:
        dbs = PgDatabases()
        name = dbs.create()
        created.append(name)
        eng = make_engine(dbs.url(name), poolclass=sa.NullPool)
        migrate.upgrade(eng)
        eng.dispose()
        templates["postgresql"] = name
    yield templates
    if created:
        dbs = PgDatabases()
        for name in created:
            dbs.drop(name)
        dbs.admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_url(
    backend: str, tmp_path: Path, migrated_templates: dict[str, str], request: pytest.FixtureRequest
) -> Iterator[str]:
    """A fresh marketing database at the migration head, on each backend."""
    if backend == "sqlite":
        target = tmp_path / "marketing.db"
        shutil.copyfile(migrated_templates["sqlite"], target)
        yield f"sqlite:///{target}"
        return
    dbs = request.getfixturevalue("pg_databases")
    name = dbs.create(template=migrated_templates["postgresql"])
    try:
        yield dbs.url(name)
    finally:
        dbs.drop(name)


@pytest.fixture
def empty_db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty (unmigrated) database on each backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    dbs = request.getfixturevalue("pg_databases")
    name = dbs.create()
    try:
        yield dbs.url(name)
    finally:
        dbs.drop(name)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def marketing_db_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point AIRFLOW_CONN_MARKETING_DB (CLI, DAG tasks, public app) at the test database."""
    monkeypatch.setenv("AIRFLOW_CONN_MARKETING_DB", db_url)
    return db_url


@pytest.fixture
def funnelflow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "ffhome"
    monkeypatch.setenv("FUNNELFLOW_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def sendgrid_spec_path() -> Path:
    path = SHARED_SPECS / "sendgrid-mail-v3.json"
    if not path.exists():
        pytest.skip(f"SendGrid's spec is not at {path} (CI has ../shared/specs beside the clone)")
    return path


@pytest.fixture(scope="session")
def mail_validator(sendgrid_spec_path: Path):
    from tests.fakes.sendgrid_standin import load_validator

    return load_validator(sendgrid_spec_path)


@pytest.fixture
def standin(mail_validator):
    """The SendGrid stand-in (tests/fakes/sendgrid_standin.py), for the sending and campaign tests."""
    from tests.fakes.sendgrid_standin import StandIn

    server = StandIn(mail_validator, api_key=API_KEY).start()
    yield server
    server.stop()


@pytest.fixture
def sendgrid(standin):
    """The real `sendgrid` client pointed at the stand-in."""
    from funnelflow.email.transports import SendGridTransport

    return SendGridTransport(API_KEY, standin.base_url, timeout_s=10)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def options(clock: FakeClock):
    from funnelflow.email.send import SendOptions

    return SendOptions(rate_per_s=0, concurrency=2, sleep=clock.sleep, clock=clock.time)


@pytest.fixture
def email_env(monkeypatch: pytest.MonkeyPatch, funnelflow_home: Path) -> None:
    """The settings sending needs: secret key, public URL, postal address."""
    monkeypatch.setenv("FUNNELFLOW_SECRET_KEY", "test-secret")
    monkeypatch.setenv("FUNNELFLOW_PUBLIC_URL", "https://mkt.example.org/funnelflow")
    monkeypatch.setenv("FUNNELFLOW_POSTAL_ADDRESS", "Acme Inc, 500 Test Road, Testville")


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Airflow's own metadata database (SQLite in this worker's AIRFLOW_HOME), migrated once.

    Only tests that run DAGs through Airflow (``dag.test()``) need it.
    """
    import subprocess

    home = Path(os.environ["AIRFLOW_HOME"])
    marker = home / ".migrated"
    if not marker.exists():
        home.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            check=True,
            capture_output=True,
            env=os.environ.copy(),
        )
        marker.touch()
    return home
