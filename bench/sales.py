"""Sales handoff on PostgreSQL: routing 100,000 new SQLs across 200 reps, the SLA sweep, CTI lookups.

Goals (issue 13): route 100k SQLs in <= 10 s with no capacity exceeded; an SLA
sweep over 100k open items in <= 5 s; CTI lookups against 1M leads through the
public app on loopback at p99 <= 20 ms and >= 500 lookups/s.

Sizes can be lowered for a quick look: ``BENCH_SALES_SQLS``, ``BENCH_SALES_REPS``,
``BENCH_SALES_LEADS`` (CTI), ``BENCH_SALES_LOOKUPS``. The data is generated in SQL
(``generate_series``) and is not timed.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
import yaml

from bench import peak_rss_mb, public_app, report, scratch_postgres

SQLS = int(os.environ.get("BENCH_SALES_SQLS", 100_000))
REPS = int(os.environ.get("BENCH_SALES_REPS", 200))
LEADS = int(os.environ.get("BENCH_SALES_LEADS", 1_000_000))
LOOKUPS = int(os.environ.get("BENCH_SALES_LOOKUPS", 5_000))
CONNECTIONS = 4
AS_OF = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # Tuesday
COUNTRIES = ["DE", "AT", "CH", "FR", "GB", "NL", "US", "CA", "MY", "SG"]
ZONES = {"DE": "Europe/Berlin", "AT": "Europe/Vienna", "CH": "Europe/Zurich", "FR": "Europe/Paris",
         "GB": "Europe/London", "NL": "Europe/Amsterdam", "US": "America/New_York",
         "CA": "America/Toronto", "MY": "Asia/Kuala_Lumpur", "SG": "Asia/Singapore"}  # fmt: skip
BANDS = ["1-10", "11-50", "51-200", "201-500", "501-1000", "1001-5000", "5001+"]
INDUSTRIES = ["software", "retail", "finance", "health", "manufacturing"]


def team_yaml(reps: int, capacity: int) -> str:
    rows = []
    for i in range(reps):
        country = COUNTRIES[i % len(COUNTRIES)]
        rep = {
            "id": f"rep{i:03d}",
            "name": f"Rep {i}",
            "email": f"rep{i}@example.com",
            "team": "sales",
            "timezone": ZONES[country],
            "countries": [country] if i % 5 else [],
            "segments": [["enterprise"], ["mid_market"], ["smb"], []][i % 4],
            "industries": [INDUSTRIES[i % len(INDUSTRIES)]] if i % 3 == 0 else [],
            "capacity": capacity,
        }
        if i % 50 == 7:
            rep["out_of_office"] = [{"from": "2026-11-28", "to": "2026-12-05"}]
        rows.append(rep)
    doc = {
        "business_hours": {"start": "09:00", "end": "17:00", "days": ["mon", "tue", "wed", "thu", "fri"]},
        "holidays": {},
        "sla_business_hours": {"A": 4, "B": 8, "C": 24, "D": 48},
        "reassign_after_business_hours": 8,
        "recycle_cooldown_days": 30,
        "segments": {
            "enterprise": ["1001-5000", "5001+"],
            "mid_market": ["201-500", "501-1000"],
            "smb": ["1-10", "11-50", "51-200"],
        },  # fmt: skip
        "inbound_team": "sales",
        "teams": [{"name": "sales", "manager": "rep000"}],
        "reps": rows,
        "routing": ["account_owner", "country_segment_industry", "country_segment", "country", "any"],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def _seed_sqls(engine: sa.Engine, n: int) -> None:
    accounts = max(1, n // 5)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into accounts "
                "(domain, name, industry, employee_band, country, created_at, updated_at) "
                "select 'acct' || g || '.example', 'Account ' || g, (cast(:ind as text[]))[1 + g % 5], "
                "(cast(:bands as text[]))[1 + g % 7], (cast(:countries as text[]))[1 + g % 10], "
                "now(), now() from generate_series(1, :n) g"
            ),
            {"n": accounts, "ind": INDUSTRIES, "bands": BANDS, "countries": COUNTRIES},
        )
        conn.execute(
            sa.text(
                "insert into leads (email, email_key, lifecycle_stage, lifecycle_changed_at, fit_grade, "
                "account_id, country, created_at, updated_at) "
                "select 's' || g || '@x.example', 's' || g || '@x.example', 'sql', "
                ":t - (g || ' seconds')::interval, (array['A','B','C','D'])[1 + g % 4], "
                "case when g % 10 = 0 then null else 1 + g % :accts end, "
                "case when g % 7 = 0 then (cast(:countries as text[]))[1 + g % 10] end, now(), now() "
                "from generate_series(1, :n) g"
            ),
            {"n": n, "t": AS_OF, "accts": accounts, "countries": COUNTRIES},
        )
        conn.execute(
            sa.text(
                "insert into lifecycle_history (lead_id, from_stage, to_stage, changed_at, reason) "
                "select id, 'mql', 'sql', lifecycle_changed_at, 'bench' from leads "
                "where lifecycle_stage = 'sql'"
            )
        )
        conn.exec_driver_sql("analyze")


def bench_routing_and_sweep() -> None:
    from funnelflow.db.engine import make_engine
    from funnelflow.sales.routing import route
    from funnelflow.sales.sla import sweep
    from funnelflow.sales.team import team_from_text

    capacity = -(-SQLS * 12 // 10 // REPS)  # 20% headroom: everything fits, loads still matter
    team = team_from_text(team_yaml(REPS, capacity))
    with scratch_postgres() as url:
        engine = make_engine(url)
        _seed_sqls(engine, SQLS)
        started = time.perf_counter()
        result = route(engine, team, as_of=AS_OF, run_id="bench")
        routed_s = time.perf_counter() - started
        with engine.connect() as conn:
            over = conn.execute(
                sa.text(
                    "select count(*) from (select rep_id, count(*) n from sales_queue "
                    "where status in ('open','accepted') group by rep_id) l join reps r on r.id = l.rep_id "
                    "where l.n > r.capacity"
                )
            ).scalar_one()
            items = conn.execute(sa.text("select count(*) from sales_queue")).scalar_one()
        print(f"sales routing: {SQLS} SQLs, {REPS} reps (capacity {capacity}): {result.summary()['by_step']}")
        report("sales_route_100k_s", routed_s, "s", "<=", 10)
        report("sales_route_items_queued", items, "items", ">=", SQLS)
        report("sales_route_capacity_exceeded", over, "reps", "<=", 0)

        # The sweep at a time when every item is past its reminder, the A/B ones past due too.
        sweep_at = AS_OF + timedelta(hours=7)
        started = time.perf_counter()
        swept = sweep(engine, team, as_of=sweep_at, run_id="bench")
        sweep_s = time.perf_counter() - started
        print(f"sales sweep: {swept.summary()}")
        report("sales_sla_sweep_100k_s", sweep_s, "s", "<=", 5)
        engine.dispose()


def _phone(g: int) -> str:
    """The number the seed SQL gives lead ``g``, written the way a phone system might send it."""
    area = "212" if g % 2 == 0 else "646"
    return f"+1 ({area}) {200 + (g // 2 // 10000) % 800}-{(g // 2) % 10000:04d}"


def bench_cti() -> None:
    from funnelflow.db.engine import make_engine

    with scratch_postgres() as url, tempfile.TemporaryDirectory() as config:
        (Path(config) / "sales_team.yaml").write_text(team_yaml(REPS, 100))
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "insert into leads (email, email_key, phone_e164, first_name, company, lifecycle_stage, "
                    "fit_grade, engagement_score, country, created_at, updated_at) "
                    "select 'p' || g || '@x.example', 'p' || g || '@x.example', "
                    "'+1' || case when g % 2 = 0 then '212' else '646' end "
                    "|| (200 + (g / 2 / 10000) % 800)::text || lpad(((g / 2) % 10000)::text, 4, '0'), "
                    "'P' || g, 'Co ' || (g % 5000), 'mql', 'B', g % 100, 'US', now(), now() "
                    "from generate_series(1, :n) g"
                ),
                {"n": LEADS},
            )
            conn.exec_driver_sql("analyze leads")
        engine.dispose()
        settings = {
            "AIRFLOW_CONN_MARKETING_DB": url,
            "FUNNELFLOW_CTI_API_KEY": "bench-key",
            "FUNNELFLOW_CONFIG_DIR": str(config),
        }
        with public_app(settings) as base:
            rng = random.Random(13)
            phones = [_phone(rng.randint(1, LEADS + LEADS // 10)) for _ in range(LOOKUPS)]  # ~9% unknown
            elapsed, latencies = asyncio.run(_lookups(f"{base}/cti/lookup", phones))
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(f"cti: {LOOKUPS} lookups over {LEADS} leads from {CONNECTIONS} connections in {elapsed:.2f}s")
    report("sales_cti_lookup_p99_ms", p99, "ms", "<=", 20)
    report("sales_cti_lookups_per_s", LOOKUPS / elapsed, "lookups/s", ">=", 500)


async def _lookups(url: str, phones: list[str]) -> tuple[float, list[float]]:
    """Every phone looked up once by CONNECTIONS clients at a time: (seconds, sorted latencies).

    aiohttp in one event loop, not threads of httpx: the load generator shares the two cores with
    the app, and this costs it about half the CPU per request."""
    import aiohttp

    headers = {"Authorization": "Bearer bench-key"}
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    latencies: list[float] = []
    todo = iter(phones)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:

        async def lookup(phone: str) -> None:
            async with http.get(url, params={"phone": phone}) as resp:
                resp.raise_for_status()
                await resp.read()

        await asyncio.gather(*(lookup(_phone(1)) for _ in range(CONNECTIONS)))  # warm connections, caches

        async def client() -> None:
            for phone in todo:
                t0 = time.perf_counter()
                await lookup(phone)
                latencies.append(time.perf_counter() - t0)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CONNECTIONS)))
        return time.perf_counter() - started, sorted(latencies)


def main() -> None:
    bench_routing_and_sweep()
    bench_cti()
    report("sales_peak_rss", peak_rss_mb(), "MB", "<", 2000)


if __name__ == "__main__":
    main()
