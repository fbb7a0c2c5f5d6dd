"""Sending at scale: 1,000,000 recipients rendered, ledgered and handed to the SendGrid stand-in.

Batched path (personalizations of 1000 with substitutions) into PostgreSQL's
ledger; the stand-in (its own process) checks one request in ten against
SendGrid's schema and counts the rest. Goals: <= 120 s end to end, peak memory
of this process <= 300 MB. Then the one-request-per-message path at 10,000
recipients. Setup (1M leads with granted consent, loaded with COPY) is not timed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import peak_rss_mb, report, scratch_postgres

N_BATCHED = int(os.environ.get("BENCH_EMAIL_RECIPIENTS", "1000000"))
N_SINGLE = int(os.environ.get("BENCH_EMAIL_SINGLE", "10000"))
SPEC = Path(__file__).resolve().parent.parent.parent / "shared" / "specs" / "sendgrid-mail-v3.json"
API_KEY = "SG.bench-key"
AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _load_people(url: str, n: int) -> None:
    import psycopg
    import sqlalchemy as sa

    dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    granted = (AS_OF - timedelta(hours=1)).isoformat()
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(
            "copy leads (id, email, email_key, first_name, lifecycle_stage, created_at, updated_at) "
            "from stdin"
        ) as copy:
            for i in range(1, n + 1):
                email = f"person{i}@bench.example.com"
                name = "Zoë <b>&</b>" if i % 100 == 0 else f"Person{i}"
                copy.write_row((i, email, email, name, "lead", granted, granted))
        with cur.copy("copy consents (lead_id, channel, status, source, recorded_at) from stdin") as copy:
            for i in range(1, n + 1):
                copy.write_row((i, "email", "granted", "website", granted))
        cur.execute("select setval(pg_get_serial_sequence('leads', 'id'), %s)", (n,))
        cur.execute("analyze leads")
        cur.execute("analyze consents")


def _start_standin() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.sendgrid_standin",
            str(SPEC),
            "--sample",
            "10",
            "--api-key",
            API_KEY,
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    base_url = proc.stdout.readline().strip()
    if not base_url.startswith("http://"):
        proc.kill()
        raise SystemExit("the SendGrid stand-in did not start")
    return proc, base_url


def _stats(base_url: str) -> dict:
    with urllib.request.urlopen(f"{base_url}/__stats", timeout=10) as resp:  # noqa: S310 (local stand-in)
        return json.loads(resp.read())


def main() -> None:
    if not SPEC.exists():
        print(f"bench email_send: skipped, SendGrid's spec is not at {SPEC}")
        return
    import sqlalchemy as sa

    from funnelflow.db.engine import make_engine
    from funnelflow.db.schema import email_sends
    from funnelflow.email import policy
    from funnelflow.email.send import Mailing, Recipient, SendOptions, send_mailing
    from funnelflow.email.transports import SendGridTransport
    from funnelflow.email.welcome import send_welcomes

    os.environ.setdefault("FUNNELFLOW_SECRET_KEY", "bench-secret")
    proc, base_url = _start_standin()
    try:
        with scratch_postgres() as url:
            _load_people(url, N_BATCHED)
            engine = make_engine(url)
            transport = SendGridTransport(API_KEY, base_url)
            opts = SendOptions(rate_per_s=100_000, concurrency=4)

            started = time.perf_counter()
            result = send_welcomes(engine, transport, AS_OF, opts)
            elapsed = time.perf_counter() - started
            stats = _stats(base_url)
            with engine.connect() as conn:
                sent_rows = conn.execute(
                    sa.select(sa.func.count()).where(email_sends.c.status == "sent")
                ).scalar_one()
            print(
                f"  batched: {result.sent:,} sent in {result.requests:,} requests; stand-in accepted "
                f"{stats['personalizations']:,} personalizations, validated {stats['validated']} requests, "
                f"{stats['invalid']} invalid; ledger rows sent: {sent_rows:,}"
            )
            ok = result.sent == N_BATCHED == stats["personalizations"] == sent_rows and stats["invalid"] == 0
            report("email_send_batched_1m_seconds", elapsed, "s", "<=", 120)
            report("email_send_batched_recipients_per_s", N_BATCHED / elapsed, "msg/s", ">=", N_BATCHED / 120)
            report("email_send_batched_all_accounted", 1.0 if ok else 0.0, "bool", ">=", 1)
            report("email_send_peak_rss_mb", peak_rss_mb(), "MB", "<=", 300)

            single = Mailing(
                "bench-single", "welcome", policy.MARKETING, {"start_url": "https://example.com/guide"}
            )
            before = _stats(base_url)["requests"]
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.text("select id, email, first_name from leads order by id limit :n"), {"n": N_SINGLE}
                ).all()
            recipients = [Recipient(email, lead_id, {"first_name": name}) for lead_id, email, name in rows]
            started = time.perf_counter()
            one = send_mailing(
                engine,
                single,
                recipients,
                transport,
                as_of=AS_OF,
                options=SendOptions(batched=False, rate_per_s=100_000, concurrency=8),
            )
            elapsed = time.perf_counter() - started
            requests = _stats(base_url)["requests"] - before
            print(f"  one per message: {one.sent:,} sent in {requests:,} requests")
            report("email_send_single_10k_seconds", elapsed, "s", "<=", 60)
            report("email_send_single_msgs_per_s", N_SINGLE / elapsed, "msg/s", ">=", N_SINGLE / 60)
            engine.dispose()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
