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
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime

import sqlalchemy as sa

from bench import peak_rss_mb, report, scratch_postgres

LEADS = int(os.environ.get("BENCH_METRICS_LEADS", "1000000"))
TOUCHPOINTS = int(os.environ.get("BENCH_METRICS_TOUCHPOINTS", str(LEADS * 10)))
STAGE_CHANGES = int(os.environ.get("BENCH_METRICS_STAGE_CHANGES", str(LEADS * 2)))
SENDS = int(os.environ.get("BENCH_METRICS_SENDS", str(LEADS)))
EVENTS = int(os.environ.get("BENCH_METRICS_EVENTS", str(LEADS * 3)))
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


def main() -> None:
    from funnelflow.db.engine import make_engine
    from funnelflow.metrics.compute import compute_week, compute_weeks
    from funnelflow.metrics.report import build_report, save_report
    from funnelflow.metrics.weeks import Week, weeks_between

    os.environ["FUNNELFLOW_HOME"] = tempfile.mkdtemp(prefix="ff-bench-metrics-")
    os.environ.setdefault("FUNNELFLOW_REPORT_TZ", "UTC")
    with scratch_postgres() as url:
        engine = make_engine(url)
        t0 = time.perf_counter()
        _generate(engine)
        print(
            f"generated {LEADS:,} leads, {TOUCHPOINTS:,} touchpoints, {STAGE_CHANGES:,} stage changes, "
            f"{SENDS:,} sends, {EVENTS:,} events in {time.perf_counter() - t0:.1f}s",
            flush=True,
        )
        last = Week.before(AS_OF)
        weeks = weeks_between(last.shift(-51), last)

        t0 = time.perf_counter()
        results = compute_weeks(engine, weeks)
        report(f"metrics_backfill_52_weeks_{LEADS}_leads", time.perf_counter() - t0, "s", "<=", 30)
        print(f"  rows written: {sum(sum(r.rows.values()) for r in results):,}", flush=True)

        t0 = time.perf_counter()
        compute_week(engine, last)
        report(f"metrics_one_week_{LEADS}_leads", time.perf_counter() - t0, "s", "<=", 3)

        t0 = time.perf_counter()
        folder = save_report(build_report(engine, last), ["bench@example.com"])
        report("metrics_report_with_charts", time.perf_counter() - t0, "s", "<=", 10)
        print(f"  report: {folder / 'report.html'}", flush=True)
        engine.dispose()
    report("metrics_peak_rss", peak_rss_mb(), "MB", "<=", 1024)


if __name__ == "__main__":
    main()
