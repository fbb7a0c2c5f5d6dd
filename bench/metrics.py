"""Weekly funnel metrics over a year of data in PostgreSQL (issue 14).

Goals: 52 weeks backfilled over 1M leads, 10M touchpoints, 2M stage changes, 1M sends and
3M events in <= 30 s; one week in <= 3 s; the report with its charts in <= 10 s. The data is
generated in the database with generate_series; then the real ``compute_weeks``,
``compute_week`` and ``build_report``/``save_report`` run.

Sizes are configurable (the full size needs several minutes just to generate on a shared
2-core box): ``BENCH_METRICS_LEADS`` (default 1,000,000); touchpoints, stage changes, sends and
events scale with it (10x, 2x, 1x, 3x) unless ``BENCH_METRICS_TOUCHPOINTS``,
``BENCH_METRICS_STAGE_CHANGES``, ``BENCH_METRICS_SENDS``, ``BENCH_METRICS_EVENTS`` say
otherwise. The goals are judged at whatever size ran; the size is printed with the results.

Also measured (no goal): the maintained origins and first stage entries
(``funnelflow.metrics.origins``): a full build, a refresh when nothing changed, and a refresh
after ``BENCH_METRICS_CHANGED`` (default 10,000) leads each got a touch (half of them earlier
than their first) and a stage change, and after those rows were deleted again (the data is as it
was afterwards). Each timed step prints the wall time and the PostgreSQL backend's CPU time (its
``/proc/<pid>/stat``, the server runs on this box), with the load average.

``BENCH_METRICS_STEPS=1`` also prints the time of each staged query, mart and refresh step.

``BENCH_METRICS_DB=<name>`` keeps the generated database under that name on the bench server
instead of dropping it, and a later run with the same name (and sizes) reuses it: generating the
full size takes minutes, computing it seconds. The computed weeks are replaced on each run, as a
rerun does. Drop it by hand when done (``dropdb <name>``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import sqlalchemy as sa

from bench import PG_URL, peak_rss_mb, report, scratch_postgres

LEADS = int(os.environ.get("BENCH_METRICS_LEADS", "1000000"))
TOUCHPOINTS = int(os.environ.get("BENCH_METRICS_TOUCHPOINTS", str(LEADS * 10)))
STAGE_CHANGES = int(os.environ.get("BENCH_METRICS_STAGE_CHANGES", str(LEADS * 2)))
SENDS = int(os.environ.get("BENCH_METRICS_SENDS", str(LEADS)))
EVENTS = int(os.environ.get("BENCH_METRICS_EVENTS", str(LEADS * 3)))
KEEP_DB = os.environ.get("BENCH_METRICS_DB", "")
CHANGED = int(os.environ.get("BENCH_METRICS_CHANGED", "10000"))
_TICKS = os.sysconf("SC_CLK_TCK")
AS_OF = datetime(2026, 11, 23, 6, tzinfo=UTC)  # a Monday: the report week is 2026-W47

_SETUP = [
    """insert into leads (email, email_key, lifecycle_stage, created_at, updated_at)
       select 'p' || i || '@example.com', 'p' || i || '@example.com', 'lead', now(), now()
       from generate_series(1, :leads) as i""",
    # One lead in a hundred was merged into the one before it.
    "update leads set merged_into_id = id - 1 where id % 100 = 0",
    """insert into touchpoints (lead_id, occurred_at, channel, touch_type, source, campaign, scored,
                               created_at)
       select 1 + (i::bigint * 7919) % :leads,
              :as_of - make_interval(days => i % 371, secs => (i * 37) % 86400),
              (array['web_form','file_import','ad_form','webinar','email','web'])[1 + i % 6],
              (array['page_view','form_fill','email_click','email_open','import','ad_lead',
                     'webinar_attended'])[1 + i % 7],
              (array['website','tradeshow','linkedin','sendgrid'])[1 + (i / 6) % 4],
              case when i % 5 = 0 then null else 'campaign-' || (i % 40) end,
              i % 23 <> 0, now()
       from generate_series(1, :touchpoints) as i""",
    """insert into lifecycle_history (lead_id, from_stage, to_stage, changed_at, reason)
       select 1 + (i::bigint * 104729) % :leads, null,
              (array['mql','mql','mql','sql','sql','opportunity','customer','recycled',
                     'disqualified'])[1 + i % 9],
              :as_of - make_interval(days => (i * 13) % 365, secs => (i * 53) % 86400), 'bench'
       from generate_series(1, :stage_changes) as i""",
    """insert into email_sends (message_key, recipient_hash, lead_id, campaign_id, template, kind, status,
                                claimed_at, sent_at)
       select 'm' || (i % 50), md5(i::text), 1 + i % :leads, 'campaign-' || (i % 40), 'newsletter',
              'marketing',
              'delivered', :as_of - make_interval(days => i % 365), :as_of - make_interval(days => i % 365)
       from generate_series(1, :sends) as i""",
    """insert into email_events (sg_event_id, event, send_id, occurred_at, received_at, machine_open)
       select 'e' || i,
              (array['delivered','open','click','open','bounce','unsubscribe','spamreport'])[1 + i % 7],
              1 + i % :sends, :as_of - make_interval(days => (i % :sends) % 365, secs => 60 + i % 3600),
              now(), i % 11 = 0
       from generate_series(1, :events) as i""",
]


def _generate(engine: sa.Engine) -> None:
    params = {
        "leads": LEADS,
        "touchpoints": TOUCHPOINTS,
        "stage_changes": STAGE_CHANGES,
        "sends": SENDS,
        "events": EVENTS,
        "as_of": AS_OF,
    }
    with engine.begin() as conn:
        for sql in _SETUP:
            conn.execute(sa.text(sql), params)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("vacuum analyze")


@contextlib.contextmanager
def _database() -> Iterator[tuple[str, bool]]:
    """(url, generated already): a scratch database, or the kept one named by BENCH_METRICS_DB."""
    if not KEEP_DB:
        with scratch_postgres() as url:
            yield url, False
        return
    from funnelflow.db import migrate
    from funnelflow.db.engine import make_engine

    admin_url = sa.make_url(PG_URL).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        exists = conn.execute(sa.text("select 1 from pg_database where datname = :n"), {"n": KEEP_DB}).first()
        if not exists:
            conn.execute(sa.text(f'create database "{KEEP_DB}"'))
    admin.dispose()
    url = admin_url.set(database=KEEP_DB).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        leads = conn.execute(sa.text("select count(*) from leads")).scalar_one()
    engine.dispose()
    if leads not in (0, LEADS):
        raise SystemExit(f"{KEEP_DB} holds {leads:,} leads, not {LEADS:,}: drop it or use another name")
    yield url, leads == LEADS


def _backend_cpu(engine: sa.Engine) -> float:
    """CPU seconds (user + system) of the server process behind the engine's pooled connection."""
    with engine.connect() as conn:
        pid = conn.execute(sa.text("select pg_backend_pid()")).scalar_one()
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / _TICKS


@contextlib.contextmanager
def _timed(engine: sa.Engine, what: str) -> Iterator[None]:
    cpu, t0 = _backend_cpu(engine), time.perf_counter()
    yield
    wall = time.perf_counter() - t0
    print(
        f"  {what}: {wall:.2f}s wall, backend CPU {_backend_cpu(engine) - cpu:.2f}s "
        f"(load average {os.getloadavg()[0]:.1f})",
        flush=True,
    )


def _origins(engine: sa.Engine) -> None:
    """The maintained tables: whatever the last run left to do, a full build, a refresh of nothing,
    and of CHANGED leads changed (then changed back)."""
    from funnelflow.metrics import origins

    def refresh(what: str, **kw) -> None:
        with _timed(engine, what), engine.connect() as conn:
            result = origins.refresh(conn, **kw)
        print(
            f"    {result.mode} ({result.reason}): {result.changed_leads:,} noted, "
            f"{result.refreshed_leads:,} recomputed",
            flush=True,
        )

    refresh("origins: pending changes")
    refresh("origins: full build", full=True)
    refresh("origins: refresh, nothing changed")
    params = {"n": CHANGED, "leads": LEADS, "as_of": AS_OF}
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                """insert into touchpoints (lead_id, occurred_at, channel, touch_type, source, scored,
                                           source_ref, created_at)
                   select 1 + (i::bigint * 7717) % :leads,
                          :as_of - make_interval(days => case when i % 2 = 0 then 400 else 3 end),
                          'web', 'page_view', 'bench-changed', true, 'bench-changed:' || i, now()
                   from generate_series(1, :n) as i"""
            ),
            params,
        )
        conn.execute(
            sa.text(
                """insert into lifecycle_history (lead_id, from_stage, to_stage, changed_at, reason)
                   select 1 + (i::bigint * 7717) % :leads, null, 'sql', :as_of - interval '2 days',
                          'bench-changed'
                   from generate_series(1, :n) as i"""
            ),
            params,
        )
    refresh(f"origins: refresh, {CHANGED:,} leads changed")
    with engine.begin() as conn:
        conn.execute(sa.text("delete from touchpoints where source = 'bench-changed'"))
        conn.execute(sa.text("delete from lifecycle_history where reason = 'bench-changed'"))
    refresh(f"origins: refresh, the {CHANGED:,} leads changed back")


def main() -> None:
    from funnelflow.db.engine import make_engine
    from funnelflow.metrics.compute import compute_week, compute_weeks
    from funnelflow.metrics.report import build_report, save_report
    from funnelflow.metrics.weeks import Week, weeks_between

    if os.environ.get("BENCH_METRICS_STEPS"):  # the time of every staged query, mart and refresh step
        import logging

        logging.basicConfig(format="    %(message)s")
        logging.getLogger("funnelflow.metrics").setLevel(logging.DEBUG)
    os.environ["FUNNELFLOW_HOME"] = tempfile.mkdtemp(prefix="ff-bench-metrics-")
    os.environ.setdefault("FUNNELFLOW_REPORT_TZ", "UTC")
    with _database() as (url, generated):
        engine = make_engine(url)
        t0 = time.perf_counter()
        if not generated:
            _generate(engine)
        print(
            f"{'reused' if generated else 'generated'} {LEADS:,} leads, {TOUCHPOINTS:,} touchpoints, "
            f"{STAGE_CHANGES:,} stage changes, {SENDS:,} sends, {EVENTS:,} events in "
            f"{time.perf_counter() - t0:.1f}s (load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        last = Week.before(AS_OF)
        weeks = weeks_between(last.shift(-51), last)
        _origins(engine)
        engine.dispose()  # the runs below start on a new connection, as the DAG's do (temp_buffers)

        cpu, t0 = _backend_cpu(engine), time.perf_counter()
        results = compute_weeks(engine, weeks)
        report(f"metrics_backfill_52_weeks_{LEADS}_leads", time.perf_counter() - t0, "s", "<=", 30)
        print(f"  rows written: {sum(sum(r.rows.values()) for r in results):,}", flush=True)
        print(f"  backend CPU {_backend_cpu(engine) - cpu:.2f}s (load average {os.getloadavg()[0]:.1f})")

        cpu, t0 = _backend_cpu(engine), time.perf_counter()
        compute_week(engine, last)
        report(f"metrics_one_week_{LEADS}_leads", time.perf_counter() - t0, "s", "<=", 3)
        print(f"  backend CPU {_backend_cpu(engine) - cpu:.2f}s (load average {os.getloadavg()[0]:.1f})")

        t0 = time.perf_counter()
        folder = save_report(build_report(engine, last), ["bench@example.com"])
        report("metrics_report_with_charts", time.perf_counter() - t0, "s", "<=", 10)
        print(f"  report: {folder / 'report.html'}", flush=True)
        engine.dispose()
    report("metrics_peak_rss", peak_rss_mb(), "MB", "<=", 1024)


if __name__ == "__main__":
    main()
