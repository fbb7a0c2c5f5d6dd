"""Re-score and re-stage 1,000,000 leads with 10,000,000 touchpoints in PostgreSQL.

Goals (issue 4): the daily pass over every lead (decay moves every engagement
score, breakdowns and history included) under 30 s with peak memory <= 1 GB,
and a pass over 10,000 changed leads among the million under 5 s. The data is
generated in the database with generate_series (set-based, seconds), then the
real ``score_and_stage`` runs with the shipped rules.

Size: ``BENCH_QUALIFY_LEADS`` (default 1,000,000) and ``BENCH_QUALIFY_TOUCHPOINTS``
(default ten per lead); generating the million takes about three minutes on 2 cores.

Iterating on the speed: ``BENCH_QUALIFY_KEEP_DB=<name>`` keeps the generated data, as it
stands before the first pass, in database ``<name>``; later runs with the same setting
(and size) clone it (``CREATE DATABASE ... TEMPLATE``, a file copy, into ``<name>_run_<hex>``,
dropped afterwards) and measure all three passes without generating again. Drop it when
done: ``dropdb -h 127.0.0.1 -U postgres <name>``.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bench import PG_URL, peak_rss_mb, report, scratch_postgres

LEADS = int(os.environ.get("BENCH_QUALIFY_LEADS", "1000000"))
TOUCHPOINTS = int(os.environ.get("BENCH_QUALIFY_TOUCHPOINTS", str(LEADS * 10)))
CHANGED = 10_000
KEEP_DB = os.environ.get("BENCH_QUALIFY_KEEP_DB", "")
AS_OF = datetime(2026, 11, 23, 12, tzinfo=UTC)

_SETUP = [
    """insert into accounts (domain, name, industry, employee_band, revenue_band, country, region, competitor,
                             created_at, updated_at)
       select 'company' || i || '.example', 'Company ' || i,
              (array['Software','IT Services','Manufacturing','Retail','Healthcare','Consulting'])[1 + i % 6],
              (array['1-10','11-50','51-200','201-500','501-1000','1001-5000','5001+'])[1 + i % 7],
              '$10M-$50M', (array['US','DE','GB','FR','JP'])[1 + i % 5],
              (array['NA','EMEA','EMEA','EMEA','APAC'])[1 + i % 5], i % 500 = 0, now(), now()
       from generate_series(1, 3000) as i""",
    """insert into leads (email, email_key, email_domain, first_name, last_name, job_title, seniority,
                          department, account_id, email_status, email_free, email_disposable, email_role,
                          lifecycle_stage, created_at, updated_at)
       select 'p' || i || '@company' || (1 + i % 3000) || '.example',
              'p' || i || '@company' || (1 + i % 3000) || '.example',
              'company' || (1 + i % 3000) || '.example', 'First' || i, 'Last' || i, 'Marketing Manager',
              (array['c_level','vp','director','manager','individual_contributor','student'])[1 + i % 6],
              (array['marketing','sales','engineering','executive','finance','other'])[1 + (i / 7) % 6],
              1 + i % 3000, 'valid', i % 10 = 0, false, i % 50 = 0,
              (array['lead','lead','lead','subscriber'])[1 + i % 4],
              now() - interval '30 days', now() - interval '30 days'
       from generate_series(1, :leads) as i""",
    """insert into touchpoints (lead_id, occurred_at, channel, touch_type, page_url, scored, created_at)
       select 1 + (i::bigint * 7919) % :leads,
              :as_of - make_interval(days => i % 180, secs => (i * 37) % 86400),
              'web',
              (array['page_view','page_view','page_view','email_open','email_open','email_click','form_fill',
                     'webinar_registered','webinar_attended','ad_lead'])[1 + i % 10],
              (array['https://www.example.com/','https://www.example.com/pricing','https://www.example.com/blog/x',
                     'https://www.example.com/demo','https://www.example.com/product'])[1 + (i / 10) % 5],
              i % 23 <> 0,
              :as_of - make_interval(days => i % 180, secs => (i * 37) % 86400) + interval '1 minute'
       from generate_series(1, :touchpoints) as i""",
]


def _generate(engine: sa.Engine) -> None:
    from funnelflow.db.schema import touchpoints

    # Loading is faster with the touchpoints' secondary indexes built afterwards (same definitions).
    unique_ref = "uq_touchpoints_source_ref"
    with engine.begin() as conn:
        for index in touchpoints.indexes:
            index.drop(conn)
        conn.exec_driver_sql(f"alter table touchpoints drop constraint {unique_ref}")
        for sql in _SETUP:
            conn.execute(sa.text(sql), {"leads": LEADS, "touchpoints": TOUCHPOINTS, "as_of": AS_OF})
        for index in touchpoints.indexes:
            index.create(conn)
        conn.exec_driver_sql(f"alter table touchpoints add constraint {unique_ref} unique (source_ref)")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("vacuum analyze")


def _admin() -> sa.Engine:
    return sa.create_engine(
        sa.make_url(PG_URL).set(drivername="postgresql+psycopg"),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.NullPool,
    )


def _kept_exists() -> bool:
    if not KEEP_DB:
        return False
    admin = _admin()
    with admin.connect() as conn:
        found = conn.execute(sa.text("select 1 from pg_database where datname = :n"), {"n": KEEP_DB}).first()
    admin.dispose()
    return found is not None


def _copy_database(source: str, target: str) -> None:
    admin = _admin()
    with admin.connect() as conn:
        # FILE_COPY: a plain copy of the files instead of writing gigabytes through the WAL.
        conn.exec_driver_sql(f'create database "{target}" template "{source}" strategy file_copy')
    admin.dispose()


@contextlib.contextmanager
def _cloned_postgres() -> Iterator[str]:
    """A throwaway copy of the kept database (see the module docstring); dropped afterwards."""
    name = f"{KEEP_DB}_run_{uuid.uuid4().hex[:10]}"
    _copy_database(KEEP_DB, name)
    try:
        yield (
            sa.make_url(PG_URL)
            .set(drivername="postgresql+psycopg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        admin = _admin()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'drop database if exists "{name}" with (force)')
        admin.dispose()


def main() -> None:
    from funnelflow.db.engine import make_engine
    from funnelflow.qualify.rules import load_rules
    from funnelflow.qualify.score import score_and_stage

    rules = load_rules()
    reuse = _kept_exists()
    with _cloned_postgres() if reuse else scratch_postgres() as url:
        engine = make_engine(url)
        if reuse:
            print(f"reusing the generated data of database {KEEP_DB}", flush=True)
        else:
            t0 = time.perf_counter()
            _generate(engine)
            took = time.perf_counter() - t0
            print(f"generated {LEADS:,} leads and {TOUCHPOINTS:,} touchpoints in {took:.1f}s", flush=True)
            if KEEP_DB:
                engine.dispose()
                _copy_database(sa.make_url(url).database, KEEP_DB)
                print(f"kept the generated data in database {KEEP_DB}", flush=True)
        with engine.connect() as conn:
            leads_now = conn.execute(sa.text("select count(*) from leads")).scalar_one()

        t0 = time.perf_counter()
        first = score_and_stage(engine, rules, as_of=AS_OF, scope="all", run_id="bench-1")
        report("qualify_first_full_pass", time.perf_counter() - t0, "s", "<", 30)
        print(f"  {first.summary()}", flush=True)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("vacuum analyze leads")

        t0 = time.perf_counter()
        daily = score_and_stage(engine, rules, as_of=AS_OF + timedelta(days=1), scope="all", run_id="bench-2")
        report("qualify_daily_rescore_1M_leads", time.perf_counter() - t0, "s", "<", 30)
        print(f"  {daily.summary()}", flush=True)
        assert daily.updated >= leads_now * 0.9, "the daily pass should rewrite (almost) every decayed score"

        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "update leads set job_title = 'VP Marketing', updated_at = now() where id % :step = 0"
                ),
                {"step": leads_now // CHANGED},
            )
        t0 = time.perf_counter()
        changed = score_and_stage(
            engine, rules, as_of=AS_OF + timedelta(days=1, hours=1), scope="changed", run_id="bench-3"
        )
        report("qualify_10k_changed_leads", time.perf_counter() - t0, "s", "<", 5)
        print(f"  {changed.summary()}", flush=True)
        assert CHANGED <= changed.considered < CHANGED * 1.1, changed.considered
        engine.dispose()
    report("qualify_peak_rss", peak_rss_mb(), "MB", "<=", 1024)


if __name__ == "__main__":
    main()
