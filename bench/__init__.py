"""Benchmarks: ``make bench`` runs each module in BENCH_MODULES in its own process.

A benchmark prints one line per measure through ``report``:
``bench <name>: <value> <unit> (goal <op> <value>) PASS|MISS``.
Each runs in a fresh process so its peak memory is its own.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

BENCH_MODULES: tuple[str, ...] = (
    "bench.ingest",
    "bench.dag_parse",
    "bench.synth",
    "bench.webhook",
    "bench.email_send",
    "bench.qualify",
    "bench.metrics",
    "bench.campaign",
    "bench.sales",
    "bench.webinars",
)

PG_URL = os.environ.get("FUNNELFLOW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

_OPS = {
    "<": lambda v, g: v < g,
    "<=": lambda v, g: v <= g,
    ">": lambda v, g: v > g,
    ">=": lambda v, g: v >= g,
}


def report(name: str, value: float, unit: str, op: str, goal: float) -> bool:
    ok = _OPS[op](value, goal)
    print(f"bench {name}: {value:.3f} {unit} (goal {op} {goal:g}) {'PASS' if ok else 'MISS'}", flush=True)
    return ok


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextlib.contextmanager
def scratch_postgres(migrated: bool = True) -> Iterator[str]:
    """A throwaway PostgreSQL database on the bench server, at the migration head; dropped afterwards."""
    import sqlalchemy as sa

    admin_url = sa.make_url(PG_URL).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    name = f"ff_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        if migrated:
            from funnelflow.db import migrate
            from funnelflow.db.engine import make_engine

            eng = make_engine(url)
            migrate.upgrade(eng)
            eng.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@contextlib.contextmanager
def public_app(settings: dict[str, str], workers: int = 2) -> Iterator[str]:
    """``python -m funnelflow serve`` on a free loopback port with these settings (over the
    environment), as production runs it; yields its base URL once ``/health`` answers, then stops it."""
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "funnelflow", "serve", "--port", str(port), "--workers", str(workers)],
        env={**os.environ, **settings},
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/funnelflow"
    try:
        deadline = time.monotonic() + 60
        while True:  # wait for the server to listen (startup, not a measured result)
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("bench: the public app did not start")
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
