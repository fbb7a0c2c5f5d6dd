"""Webinars at scale: registrations through the public app, and reminders to 100,000 registrants.

1. Registrations: ``python -m funnelflow serve`` (its own processes) on a scratch
   PostgreSQL database, and 50 concurrent clients posting. The one-click path
   (``POST /webinars/r/{token}``, people who are leads already) is the one the goal
   names; the registration form (a new person landed as a lead first) is measured
   beside it. Capacity is checked after each: never more registered than seats.
   Goal: >= 300 registrations per second.
2. Reminders: 100,000 registered people get the 24-hour reminder through the sending
   layer to the SendGrid stand-in (batched). Goal: <= 60 s.
Sizes: BENCH_WEBINAR_CLICKS (default 6000), BENCH_WEBINAR_FORMS (1000),
BENCH_WEBINAR_REMINDERS (100000). BENCH_SENDGRID_SPEC names the SendGrid spec when it is
not at ../shared/specs beside the clone (a git worktree elsewhere, say).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bench.email_send
from bench import peak_rss_mb, public_app, report, scratch_postgres
from bench.email_send import API_KEY, _start_standin, _stats

# The stand-in is started with bench.email_send.SPEC: point it at BENCH_SENDGRID_SPEC when given.
bench.email_send.SPEC = SPEC = Path(os.environ.get("BENCH_SENDGRID_SPEC") or bench.email_send.SPEC)

N_CLICKS = int(os.environ.get("BENCH_WEBINAR_CLICKS", "6000"))
N_FORMS = int(os.environ.get("BENCH_WEBINAR_FORMS", "1000"))
N_REMINDERS = int(os.environ.get("BENCH_WEBINAR_REMINDERS", "100000"))
CLIENTS = 50
REPO = Path(__file__).resolve().parent.parent
STARTS = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)


def _webinar_file(config: Path, capacity: int) -> Path:
    import shutil
    from zoneinfo import ZoneInfo

    shutil.copytree(REPO / "config", config, ignore=shutil.ignore_patterns("webinars", "campaigns"))
    (config / "webinars").mkdir()
    local = STARTS.astimezone(ZoneInfo("Europe/Berlin")).replace(tzinfo=None)
    path = config / "webinars" / "bench.yaml"
    path.write_text(
        f'title: Bench webinar\nstarts_at: "{local:%Y-%m-%dT%H:%M:%S}"\ntimezone: Europe/Berlin\n'
        f"duration_minutes: 60\njoin_url: https://zoom.example.com/j/1\ncapacity: {capacity}\nhost: Bench\n"
    )
    return path


def _load_leads(url: str, n: int, first_id: int = 1) -> None:
    import psycopg
    import sqlalchemy as sa

    dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    at = (STARTS - timedelta(days=10)).isoformat()
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(
            "copy leads (id, email, email_key, first_name, created_at, updated_at) from stdin"
        ) as copy:
            for i in range(first_id, first_id + n):
                email = f"person{i}@bench.example.com"
                copy.write_row((i, email, email, f"Person{i}", at, at))
        with cur.copy("copy consents (lead_id, channel, status, source, recorded_at) from stdin") as copy:
            for i in range(first_id, first_id + n):
                copy.write_row((i, "email", "granted", "website", at))
        cur.execute("select setval(pg_get_serial_sequence('leads', 'id'), %s)", (first_id + n,))
        cur.execute("analyze leads")


async def _post_all(urls_and_forms: list[tuple[str, dict | None]]) -> tuple[float, dict[int, int]]:
    # aiohttp, not httpx: the load generator shares the 2 cores with the server, and aiohttp's client
    # costs about half the CPU per request, so more of the machine measures the app.
    import aiohttp

    queue: asyncio.Queue = asyncio.Queue()
    for item in urls_and_forms:
        queue.put_nowait(item)
    statuses: dict[int, int] = {}

    async def client(http: aiohttp.ClientSession) -> None:
        while not queue.empty():
            url, form = queue.get_nowait()
            async with http.post(url, data=form or {}) as resp:
                await resp.read()
                statuses[resp.status] = statuses.get(resp.status, 0) + 1

    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(CLIENTS)))
        return time.perf_counter() - started, statuses


def _registrations(url: str, tmp: Path) -> None:
    import sqlalchemy as sa

    from funnelflow.db.engine import make_engine
    from funnelflow.db.schema import webinar_registrations, webinars
    from funnelflow.webinars.config import load_webinar
    from funnelflow.webinars.registrations import sync_webinars
    from funnelflow.webinars.tokens import invitation_token

    capacity = N_CLICKS // 2
    config = tmp / "config"
    webinar = load_webinar(_webinar_file(config, capacity))
    engine = make_engine(url)
    sync_webinars(engine, [webinar], datetime.now(UTC))
    _load_leads(url, N_CLICKS)
    settings = {
        "AIRFLOW_CONN_MARKETING_DB": url,
        "FUNNELFLOW_CONFIG_DIR": str(config),
        "FUNNELFLOW_FORM_RATE_LIMIT": "100000000",
        "FUNNELFLOW_HOME": str(tmp / "home"),
    }
    with public_app(settings) as base:
        clicks = [(f"{base}/webinars/r/{invitation_token('bench', i)}", None) for i in range(1, N_CLICKS + 1)]
        elapsed, statuses = asyncio.run(_post_all(clicks))
        with engine.connect() as conn:
            registered = conn.execute(
                sa.select(sa.func.count()).where(webinar_registrations.c.status == "registered")
            ).scalar_one()
            total = conn.execute(sa.select(sa.func.count()).select_from(webinar_registrations)).scalar_one()
            seats = conn.execute(sa.select(webinars.c.seats_taken)).scalar_one()
        print(
            f"  one-click: {N_CLICKS:,} posts by {CLIENTS} clients, answers {statuses}; "
            f"registered {registered:,} of capacity {capacity:,}, {total:,} registrations"
        )
        report("webinar_one_click_registrations_per_s", N_CLICKS / elapsed, "reg/s", ">=", 300)
        report(
            "webinar_capacity_held",
            1.0 if registered == seats == capacity and total == N_CLICKS else 0.0,
            "bool",
            ">=",
            1,
        )
        forms = [
            (f"{base}/webinars/bench/register", {"email": f"new{i}@bench.example.org", "first_name": "New"})
            for i in range(N_FORMS)
        ]
        elapsed, statuses = asyncio.run(_post_all(forms))
        with engine.connect() as conn:
            total_after = conn.execute(
                sa.select(sa.func.count()).select_from(webinar_registrations)
            ).scalar_one()
        print(
            f"  form: {N_FORMS:,} new people by {CLIENTS} clients, answers {statuses}; "
            f"{total_after - total:,} registrations"
        )
        rate = N_FORMS / elapsed
        print(f"bench webinar_form_registrations_per_s: {rate:.1f} reg/s (no goal: each lands a lead)")
    engine.dispose()


def _reminders(url: str, tmp: Path) -> None:
    import psycopg
    import sqlalchemy as sa

    from funnelflow.db.engine import make_engine
    from funnelflow.email.transports import SendGridTransport
    from funnelflow.webinars import emails
    from funnelflow.webinars.config import load_webinar
    from funnelflow.webinars.registrations import sync_webinars

    config = tmp / "config-reminders"
    webinar = load_webinar(_webinar_file(config, N_REMINDERS))
    engine = make_engine(url)
    as_of = STARTS - timedelta(hours=20)
    sync_webinars(engine, [webinar], as_of - timedelta(days=5))
    first = 10_000_000
    _load_leads(url, N_REMINDERS, first_id=first)
    dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        [webinar_id] = cur.execute("select id from webinars where slug = 'bench'").fetchone()
        at = (as_of - timedelta(days=3)).isoformat()
        with cur.copy(
            "copy webinar_registrations (webinar_id, lead_id, status, source, holds_seat, registered_at, "
            "updated_at) from stdin"
        ) as copy:
            for i in range(first, first + N_REMINDERS):
                copy.write_row((webinar_id, i, "registered", "form", True, at, at))
        cur.execute("update webinars set seats_taken = %s where id = %s", (N_REMINDERS, webinar_id))
    proc, base_url = _start_standin()
    try:
        transport = SendGridTransport(API_KEY, base_url)
        started = time.perf_counter()
        result = emails.send_reminders(engine, transport, webinar, as_of)
        elapsed = time.perf_counter() - started
        stats = _stats(base_url)
    finally:
        proc.terminate()
        engine.dispose()
    print(
        f"  reminders: {result.sent:,} sent in {result.requests:,} requests; "
        f"stand-in accepted {stats['personalizations']:,}, {stats['invalid']} invalid"
    )
    report("webinar_reminders_100k_seconds", elapsed, "s", "<=", 60)
    report(
        "webinar_reminders_all_sent",
        1.0 if result.sent == N_REMINDERS == stats["personalizations"] else 0.0,
        "bool",
        ">=",
        1,
    )
    report("webinar_reminders_peak_rss_mb", peak_rss_mb(), "MB", "<=", 300)


def main() -> None:
    os.environ.setdefault("FUNNELFLOW_SECRET_KEY", "bench-secret")
    with tempfile.TemporaryDirectory(prefix="ff-bench-webinars-") as tmp:
        with scratch_postgres() as url:
            _registrations(url, Path(tmp))
        if not SPEC.exists():
            print(f"bench webinar reminders: skipped, SendGrid's spec is not at {SPEC}")
            return
        with scratch_postgres() as url:
            _reminders(url, Path(tmp))


if __name__ == "__main__":
    main()
