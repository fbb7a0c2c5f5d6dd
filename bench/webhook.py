"""SendGrid Event Webhook throughput into PostgreSQL (goal: at least 5,000 events/s, none lost).

The public app runs under uvicorn in a subprocess on 127.0.0.1 against a scratch
PostgreSQL database, as in production (access log off). A client posts signed
batches of 1,000 events from 4 connections at once (SendGrid posts from many
servers in parallel), with one batch in ten posted twice (SendGrid retries).
Events posted (distinct sg_event_id) must equal rows stored.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import sqlalchemy as sa

from bench import peak_rss_mb, public_app, report, scratch_postgres
from tests.fakes.sendgrid_webhook import WebhookSigner

BATCHES = 360
BATCH_SIZE = 1000
CONNECTIONS = 4
KINDS = ("processed", "delivered", "open", "click", "open", "delivered", "bounce", "dropped")


def _batch(b: int, now: int) -> list[dict]:
    out = []
    for i in range(BATCH_SIZE):
        n = b * BATCH_SIZE + i
        kind = KINDS[n % len(KINDS)]
        item = {
            "email": f"person{n % 50_000}@example{n % 97}.com",
            "timestamp": now - 60 + (n % 60),
            "event": kind,
            "sg_event_id": f"bench-{n:09d}",
            "sg_message_id": f"m{n // 4}.filter0001.16648.5515E0B88.0",
            "send_id": str(n // 4),
            "campaign_id": "bench",
            "smtp-id": f"<m{n // 4}@example.net>",
            "category": ["newsletter"],
        }
        if kind == "open":
            item.update(sg_machine_open=n % 3 == 0, useragent="Mozilla/5.0", ip="203.0.113.7")
        elif kind == "click":
            item.update(
                url=f"https://example.com/pricing?utm_campaign=bench&n={n % 10}",
                useragent="Mozilla/5.0",
                ip="203.0.113.7",
            )
        elif kind == "bounce":
            item.update(type="bounce", status="5.1.1", reason=f"550 5.1.1 <person{n}@example.com>: unknown")
        elif kind == "dropped":
            item.update(reason="Bounced Address")
        out.append(item)
    return out


def main() -> None:
    signer = WebhookSigner()
    with scratch_postgres() as url:
        settings = {
            "AIRFLOW_CONN_MARKETING_DB": url,
            "FUNNELFLOW_SENDGRID_WEBHOOK_PUBLIC_KEY": signer.public_key,
        }
        with public_app(settings, workers=1) as base:
            now = int(time.time())
            bodies = []
            for b in range(BATCHES):
                body = json.dumps(_batch(b, now)).encode()
                bodies.append((body, signer.sign(body)))
                if b % 10 == 9:  # SendGrid's retry of a batch we already took
                    bodies.append(bodies[-1])
            distinct = BATCHES * BATCH_SIZE

            def post(client_and_item):
                client, (body, headers) = client_and_item
                resp = client.post(f"{base}/sendgrid/events", content=body, headers=headers)
                resp.raise_for_status()
                return resp.json()["stored"]

            clients = [httpx.Client(timeout=120) for _ in range(CONNECTIONS)]
            work = [(clients[i % CONNECTIONS], item) for i, item in enumerate(bodies)]
            started = time.perf_counter()
            with ThreadPoolExecutor(CONNECTIONS) as pool:
                stored_answers = sum(pool.map(post, work))
            elapsed = time.perf_counter() - started
            for c in clients:
                c.close()
            engine = sa.create_engine(url, poolclass=sa.NullPool)
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.text("select count(*), count(distinct sg_event_id) from email_events")
                ).one()
            engine.dispose()
    posted = sum(len(json.loads(b)) for b, _ in bodies)
    print(
        f"webhook: {posted} events posted in {len(bodies)} requests ({distinct} distinct), "
        f"{elapsed:.2f}s, server answered stored={stored_answers}"
    )
    report("webhook_events_per_s", distinct / elapsed, "events/s", ">=", 5000)
    report("webhook_events_lost", distinct - rows[0], "events", "<=", 0)
    report("webhook_events_stored_twice", rows[0] - rows[1], "events", "<=", 0)
    report("webhook_client_peak_rss", peak_rss_mb(), "MB", "<", 1000)


if __name__ == "__main__":
    main()
