"""``make stack``: the production shape on one machine, each part its own process.

``python -m funnelflow_airflow.stack start|stop|status|env``, and for one part
``start PART`` / ``kill PART`` (SIGKILL to its process group: a machine lost, as the
stack test does to the Celery worker in the middle of a send).

Airflow's metadata lives in its own PostgreSQL database and the marketing data in
another (both created if missing), the CeleryExecutor uses Redis as its broker and
PostgreSQL as its result backend, and the parts are the processes of
``docker-compose.yml``: ``airflow api-server``, ``scheduler``, ``dag-processor``,
``triggerer``, ``celery worker``, and ``python -m funnelflow serve`` (the public app).

Everything the stack keeps is under ``FUNNELFLOW_HOME/stack/``: Airflow's home, the
generated secrets (stable across restarts, so tokens and encrypted connections stay
valid), one log per process in ``logs/``, and ``pids.json``. ``stop`` ends exactly the
processes that ``start`` recorded: each pid is checked against the start time recorded
with it, so a pid the kernel has since given to another program is left alone.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("FUNNELFLOW_STACK_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("FUNNELFLOW_STACK_REDIS", "redis://127.0.0.1:6379/7")
AIRFLOW_DB = os.environ.get("FUNNELFLOW_STACK_AIRFLOW_DB", "funnelflow_stack_airflow")
MARKETING_DB = os.environ.get("FUNNELFLOW_STACK_MARKETING_DB", "funnelflow_stack_marketing")
API_PORT = int(os.environ.get("FUNNELFLOW_STACK_API_PORT", "8080"))
PUBLIC_PORT = int(os.environ.get("FUNNELFLOW_STACK_PUBLIC_PORT", "8000"))
SCHEDULER_HEALTH_PORT = int(os.environ.get("FUNNELFLOW_STACK_SCHEDULER_HEALTH_PORT", "8974"))
START_TIMEOUT_S = float(os.environ.get("FUNNELFLOW_STACK_START_TIMEOUT", "180"))
STOP_TIMEOUT_S = 20.0
ADMIN_USER = "admin"


@dataclass(frozen=True)
class Part:
    name: str
    argv: list[str]


def stack_dir() -> Path:
    home = Path(os.environ.get("FUNNELFLOW_HOME", REPO / ".funnelflow"))
    return home / "stack"


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def parts() -> list[Part]:
    airflow = _bin("airflow")
    return [
        Part("api-server", [airflow, "api-server", "--port", str(API_PORT)]),
        Part("scheduler", [airflow, "scheduler"]),
        Part("dag-processor", [airflow, "dag-processor"]),
        Part("triggerer", [airflow, "triggerer"]),
        Part("celery-worker", [airflow, "celery", "worker", "--concurrency", "4"]),
        Part("public-app", [sys.executable, "-m", "funnelflow", "serve", "--port", str(PUBLIC_PORT)]),
    ]


def _secret(name: str, make: Callable[[], str]) -> str:
    """A generated secret kept in the stack folder (0600), the same on every start."""
    path = stack_dir() / "secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(make())
    return path.read_text().strip()


def _pg_url(database: str, driver: str) -> str:
    import sqlalchemy as sa

    return (
        sa.make_url(PG_ADMIN_URL)
        .set(drivername=driver, database=database)
        .render_as_string(hide_password=False)
    )


def admin_password() -> str:
    return _secret("admin_password", lambda: secrets.token_urlsafe(12))


def environment() -> dict[str, str]:
    """The settings every part shares (on several machines: the same values on each)."""
    from cryptography.fernet import Fernet

    home = stack_dir()
    airflow_home = home / "airflow"
    metadata = _pg_url(AIRFLOW_DB, "postgresql+psycopg2")
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
            "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + _pg_url(AIRFLOW_DB, "postgresql"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{API_PORT}/execution/",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{API_PORT}",
            "AIRFLOW__API__PORT": str(API_PORT),
            "AIRFLOW__API_AUTH__JWT_SECRET": _secret("jwt_secret", lambda: secrets.token_urlsafe(32)),
            "AIRFLOW__API__SECRET_KEY": _secret("api_secret_key", lambda: secrets.token_urlsafe(32)),
            "AIRFLOW__CORE__FERNET_KEY": _secret("fernet_key", lambda: Fernet.generate_key().decode()),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(SCHEDULER_HEALTH_PORT),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "secrets" / "passwords.json"),
            "AIRFLOW_CONN_MARKETING_DB": _pg_url(MARKETING_DB, "postgresql"),
            "FUNNELFLOW_SECRET_KEY": os.environ.get("FUNNELFLOW_SECRET_KEY")
            or _secret("funnelflow_secret_key", lambda: secrets.token_urlsafe(32)),
            "FUNNELFLOW_PUBLIC_URL": os.environ.get("FUNNELFLOW_PUBLIC_URL")
            or f"http://127.0.0.1:{PUBLIC_PORT}/funnelflow",
            "PYTHONPATH": str(REPO),
        }
    )
    passwords = home / "secrets" / "passwords.json"
    if not passwords.exists():
        passwords.touch(mode=0o600)
        passwords.write_text(json.dumps({ADMIN_USER: admin_password()}) + "\n")
    return env


def _create_databases() -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(_pg_url("postgres", "postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in (AIRFLOW_DB, MARKETING_DB):
            exists = conn.execute(
                sa.text("select 1 from pg_database where datname = :n"), {"n": name}
            ).first()
            if not exists:
                conn.execute(sa.text(f'create database "{name}"'))
    admin.dispose()


def _run_logged(argv: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("ab") as out:
        proc = subprocess.run(argv, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise SystemExit(
            f"{' '.join(argv[1:3])} failed (exit {proc.returncode}); last lines of {log}:\n{tail}"
        )


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or None if gone."""
    try:
        os.waitpid(pid, os.WNOHANG)  # reaps it if it is our own exited child
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in {"Z", "X"} else fields[19]


def _pids_file() -> Path:
    return stack_dir() / "pids.json"


def recorded() -> dict[str, dict[str, object]]:
    path = _pids_file()
    return json.loads(path.read_text()) if path.exists() else {}


def _alive(entry: dict[str, object]) -> bool:
    return _start_time(int(entry["pid"])) == entry["start_time"]


def _get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - our own loopback URLs
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (OSError, urllib.error.URLError):
        return 0, b""


def _celery_worker_answers() -> bool:
    from celery import Celery

    app = Celery(broker=REDIS_URL)
    try:
        return bool(app.control.ping(timeout=1.0))
    except Exception:
        return False
    finally:
        app.close()


def health() -> dict[str, bool]:
    """Each part's own health check, as docker-compose.yml defines them."""
    status, body = _get(f"http://127.0.0.1:{API_PORT}/api/v2/monitor/health")
    monitor = json.loads(body) if status == 200 else {}

    def healthy(key: str) -> bool:
        return (monitor.get(key) or {}).get("status") == "healthy"

    return {
        "api-server": status == 200 and healthy("metadatabase"),
        "scheduler": _get(f"http://127.0.0.1:{SCHEDULER_HEALTH_PORT}/health")[0] == 200,
        "dag-processor": healthy("dag_processor"),
        "triggerer": healthy("triggerer"),
        "celery-worker": _celery_worker_answers(),
        "public-app": _get(f"http://127.0.0.1:{PUBLIC_PORT}/funnelflow/health")[0] == 200,
    }


def start_part(part: Part, env: dict[str, str]) -> dict[str, object]:
    logs = stack_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    out = (logs / f"{part.name}.log").open("ab")
    # Its own session: stop signals the part's whole process group (the worker's children too).
    proc = subprocess.Popen(part.argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    return {"pid": proc.pid, "start_time": _start_time(proc.pid), "argv": part.argv}


def _record(entries: dict[str, dict[str, object]]) -> None:
    _pids_file().write_text(json.dumps(entries, indent=2) + "\n")


def _ports_taken() -> list[int]:
    import socket

    taken = []
    for port in (API_PORT, PUBLIC_PORT, SCHEDULER_HEALTH_PORT):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                taken.append(port)
    return taken


def start(timeout_s: float = START_TIMEOUT_S) -> int:
    running = {name: e for name, e in recorded().items() if _alive(e)}
    if running:
        print(f"the stack is already running ({', '.join(running)}); `make stack-stop` first")
        return 1
    if taken := _ports_taken():
        print(
            f"stack: port(s) {', '.join(map(str, taken))} already answer on 127.0.0.1; stop what holds them "
            "or choose others (FUNNELFLOW_STACK_API_PORT, _PUBLIC_PORT, _SCHEDULER_HEALTH_PORT)"
        )
        return 1
    started_at = time.monotonic()
    stack_dir().mkdir(parents=True, exist_ok=True)
    env = environment()
    logs = stack_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    _create_databases()
    _run_logged([_bin("airflow"), "db", "migrate"], env, logs / "airflow-db-migrate.log")
    _run_logged(
        [sys.executable, "-m", "funnelflow", "db", "upgrade"], env, logs / "funnelflow-db-upgrade.log"
    )
    entries: dict[str, dict[str, object]] = {}
    for part in parts():
        entries[part.name] = start_part(part, env)
        _record(entries)
    deadline = started_at + timeout_s
    state: dict[str, bool] = {}
    while time.monotonic() < deadline:
        state = health()
        if all(state.values()):
            break
        dead = [name for name, e in entries.items() if not _alive(e)]
        if dead:
            print(f"stack: {', '.join(dead)} exited; see {logs}/<part>.log")
            stop()
            return 1
        time.sleep(1.0)
    else:
        waiting = [name for name, ok in state.items() if not ok]
        print(f"stack: no answer from {', '.join(waiting)} within {timeout_s:.0f} s; see {logs}/<part>.log")
        stop()
        return 1
    print(f"stack up in {time.monotonic() - started_at:.1f} s; logs in {logs}")
    print(f"Airflow UI: http://127.0.0.1:{API_PORT}   login: {ADMIN_USER} / {admin_password()}")
    print(f"public app: http://127.0.0.1:{PUBLIC_PORT}/funnelflow/health")
    return 0


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def stop() -> int:
    entries = recorded()
    mine = {name: e for name, e in entries.items() if _alive(e)}
    for entry in mine.values():
        _signal_group(int(entry["pid"]), signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and any(_alive(e) for e in mine.values()):
        time.sleep(0.2)
    survivors = []
    for name, entry in mine.items():
        if _alive(entry):
            print(f"stack: {name} ignored SIGTERM for {STOP_TIMEOUT_S:.0f} s; killing it")
            if not _kill_group(name, entry):  # stopped means gone, not merely signalled
                survivors.append(name)
    if survivors:
        return 1
    _pids_file().unlink(missing_ok=True)
    print(f"stack stopped ({len(mine)} processes)" if mine else "stack: nothing of ours was running")
    return 0


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Only zombies left (reaped by their parent, or by us if the leader was our child) count as gone.
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in {"Z", "X"}:
            return True
    return False


def kill(name: str) -> int:
    """SIGKILL one part and everything in its process group, as a lost machine; wait until all are gone."""
    entry = recorded().get(name)
    if entry is None or not _alive(entry):
        print(f"stack: {name} is not running")
        return 1
    if not _kill_group(name, entry):
        return 1
    print(f"stack: {name} killed (process group {entry['pid']})")
    return 0


def _kill_group(name: str, entry: dict[str, object]) -> bool:
    """SIGKILL a part's process group and wait until all of it is gone (False: some still run)."""
    pgid = int(entry["pid"])
    _signal_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _group_alive(pgid) or _alive(entry):
        if time.monotonic() > deadline:
            print(f"stack: processes of {name}'s group {pgid} still run {STOP_TIMEOUT_S:.0f} s after SIGKILL")
            return False
        time.sleep(0.1)
    return True


def start_one(name: str, timeout_s: float = START_TIMEOUT_S) -> int:
    """Start one recorded part again (after ``kill`` or a crash) and wait for its health check."""
    entries = recorded()
    if name in entries and _alive(entries[name]):
        print(f"stack: {name} is already running")
        return 1
    [part] = [p for p in parts() if p.name == name]
    entries[name] = start_part(part, environment())
    _record(entries)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if health()[name]:
            print(f"stack: {name} up (pid {entries[name]['pid']})")
            return 0
        if not _alive(entries[name]):
            print(f"stack: {name} exited; see {stack_dir() / 'logs' / name}.log")
            return 1
        time.sleep(0.5)
    print(f"stack: no answer from {name} within {timeout_s:.0f} s")
    return 1


def status() -> int:
    entries = recorded()
    state = health()
    for part in parts():
        entry = entries.get(part.name)
        pid = f"pid {entry['pid']}" if entry and _alive(entry) else "not running"
        print(f"{part.name:14} {pid:14} {'healthy' if state[part.name] else 'no answer'}")
    return 0 if all(state.values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m funnelflow_airflow.stack", description=__doc__.split("\n")[0]
    )
    parser.add_argument("command", choices=["start", "stop", "status", "env", "kill"])
    parser.add_argument("part", nargs="?", choices=[p.name for p in parts()], help="start/kill one part")
    args = parser.parse_args(argv)
    if args.command == "kill" or (args.command == "start" and args.part):
        if not args.part:
            parser.error("kill needs the part to kill")
        return kill(args.part) if args.command == "kill" else start_one(args.part)
    if args.command == "env":
        # The shared settings, for running `airflow ...` against the stack by hand (secrets masked).
        for key, value in sorted(environment().items()):
            if key.startswith(("AIRFLOW_", "FUNNELFLOW_")):
                masked = "***" if any(s in key for s in ("SECRET", "KEY", "PASSWORD")) else value
                print(f"{key}={masked}")
        return 0
    return {"start": start, "stop": stop, "status": status}[args.command]()


if __name__ == "__main__":
    raise SystemExit(main())
