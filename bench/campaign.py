"""A newsletter with a 20% A/B subject test to 1,000,000 people, and the issue's segment over 1M leads /
10M touches.

Through the campaign's own code path (``funnelflow.campaigns.run``): resolve and
store the audience with its cells, send the test cells, decide the winner from
injected events (deliveries and human clicks, the wait excluded), send the
remainder, all to the SendGrid stand-in (its own process, validating one
request in ten). Goals: <= 150 s end to end, peak memory <= 300 MB. Then the
segment from issue 11 (stages, grades, score, DACH, industry, band, engaged,
touched) compiled to one statement: <= 5 s on PostgreSQL.

Sizes: BENCH_CAMPAIGN_RECIPIENTS (default 1,000,000) and BENCH_CAMPAIGN_TOUCHPOINTS
(default ten per lead); BENCH_CAMPAIGN_SEND=0 measures the segment only. Setup (generate_series
inserts) is not timed. BENCH_SENDGRID_SPEC names the SendGrid spec when it is not at
../shared/specs beside the clone.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

import bench.email_send
from bench import peak_rss_mb, report, scratch_postgres
from bench.email_send import API_KEY, _start_standin, _stats

# The stand-in is started with bench.email_send.SPEC: BENCH_SENDGRID_SPEC overrides it (a worktree, say).
bench.email_send.SPEC = SPEC = Path(os.environ.get("BENCH_SENDGRID_SPEC") or bench.email_send.SPEC)

LEADS = int(os.environ.get("BENCH_CAMPAIGN_RECIPIENTS", "1000000"))
TOUCHPOINTS = int(os.environ.get("BENCH_CAMPAIGN_TOUCHPOINTS", str(LEADS * 10)))
# 0: only the segment measure (the send needs the stand-in and most of the time).
SEND = os.environ.get("BENCH_CAMPAIGN_SEND", "1") != "0"
AS_OF = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

_SETUP = [
    """insert into accounts (domain, name, industry, employee_band, country, created_at, updated_at)
       select 'company' || i || '.example', 'Company ' || i,
              (array['Software','IT Services','Manufacturing','Retail','Healthcare','Consulting'])
                  [1 + i % 6],
              (array['1-10','11-50','51-200','201-500','501-1000','1001-5000','5001+'])[1 + i % 7],
              (array['US','DE','AT','CH','FR'])[1 + i % 5], now(), now()
       from generate_series(1, 3000) as i""",
    """insert into leads (email, email_key, first_name, account_id, lifecycle_stage, fit_grade,
                          engagement_score, country, created_at, updated_at)
       select 'person' || i || '@bench.example.com', 'person' || i || '@bench.example.com',
              'Person' || i,
              case when i % 10 = 0 then null else 1 + (i / 3) % 3000 end,
              (array['lead','mql','lead','sql'])[1 + i % 4], (array['A','B','C','D'])[1 + (i / 4) % 4],
              (i % 60)::float, (array['DE','AT','CH','US','GB'])[1 + (i / 16) % 5],
              now(), now()
       from generate_series(1, :leads) as i""",
    """insert into consents (lead_id, channel, status, source, recorded_at)
       select i, 'email', 'granted', 'website', :as_of - interval '30 days'
       from generate_series(1, :leads) as i""",
    # A lead's touches are i, i + leads, i + 2 * leads, ...: the type shifts with i / leads so each
    # lead gets several.
    """insert into touchpoints (lead_id, occurred_at, channel, touch_type, campaign, scored, created_at)
       select 1 + (i::bigint * 7919) % :leads,
              :as_of - make_interval(days => i % 90, secs => (i * 37) % 86400), 'web',
              (array['page_view','page_view','email_open','email_open','email_click','form_fill',
                     'webinar_registered','webinar_attended','ad_lead','page_view'])
                  [1 + (i + i / :leads) % 10],
              case when (i + i / :leads) % 10 = 7 then 'webinar-2026-10' end, i % 23 <> 0, now()
       from generate_series(1, :touchpoints) as i""",
]

CAMPAIGN = """\
name: Bench newsletter
description: 1M recipients with a 20% A/B subject test
owner: marketing-ops
schedule: {cron: "0 9 * * TUE", timezone: Europe/Berlin}
audience:
  all:
    - lifecycle_stage: [lead, mql, sql]
content: {markdown: bench.md}
subject: {a: "What shipped in December", b: "{{ first_name }}, five things we shipped"}
ab_test: {share: 0.2, wait_hours: 4, metric: clicks, min_per_variant: 500}
offer: {url: "https://example.com/offer", expires_at: "2026-12-31T23:59:00+01:00", limit: 200}
"""

SEGMENT = {
    "all": [
        {"lifecycle_stage": ["lead", "mql"]},
        {"fit_grade": ["A", "B"]},
        {"engagement_score": {"gte": 20}},
        {"country": ["DE", "AT", "CH"]},
        {"industry": ["Software"]},
        {"employee_band": ["51-200", "201-500"]},
        {"engaged": {"within_days": 30, "touch_types": ["email_click", "form_fill"]}},
        {"touched": {"campaign": "webinar-2026-10", "touch_types": ["webinar_attended"]}},
    ],
    "none": [{"received": {"campaign": "spring-newsletter", "within_days": 14}}],
}


def _setup(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for sql in _SETUP:
            conn.execute(sa.text(sql), {"leads": LEADS, "touchpoints": TOUCHPOINTS, "as_of": AS_OF})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("vacuum analyze")


def _inject_events(engine: sa.Engine, key: str, slug: str) -> None:
    """What the engagement DAG would have written after the wait: all delivered, b clicked more by hand."""
    with engine.begin() as conn:
        conn.execute(
            sa.text("update email_sends set status = 'delivered' where message_key = :k"), {"k": key}
        )
        conn.execute(
            sa.text(
                # Clicks by hand on one message in ten of variant b and one in twenty of a; one click
                # in a hundred is a scanner's (unscored).
                """insert into touchpoints (lead_id, occurred_at, channel, touch_type, campaign, detail,
                                            scored, created_at)
                   select lead_id, :at, 'email', 'email_click', :slug, json_build_object('send_id', id),
                          id % 100 <> 0, now()
                   from email_sends
                   where message_key = :k and id % (case variant when 'b' then 10 else 20 end) = 0"""
            ),
            {"k": key, "slug": slug, "at": AS_OF},
        )


def main() -> None:
    if not SPEC.exists():
        print(f"bench campaign: skipped, SendGrid's spec is not at {SPEC}")
        return
    from funnelflow.campaigns.config import load_campaign
    from funnelflow.campaigns.run import decide_winner, resolve_audience, send_phase
    from funnelflow.db.engine import make_engine
    from funnelflow.db.schema import email_sends
    from funnelflow.email.send import SendOptions
    from funnelflow.email.transports import SendGridTransport
    from funnelflow.segments import Segment, compile_segment

    os.environ.setdefault("FUNNELFLOW_SECRET_KEY", "bench-secret")
    os.environ.setdefault("FUNNELFLOW_EMAIL_CAP", "100")
    folder = Path(tempfile.mkdtemp(prefix="bench-campaign-"))
    (folder / "bench.md").write_text(
        '# News\n\n[Read more](https://example.com/news "button")\n\n[Claim](offer:)\n'
    )
    (folder / "bench-news.yaml").write_text(CAMPAIGN)
    campaign = load_campaign(folder / "bench-news.yaml")
    proc, base_url = _start_standin()
    try:
        with scratch_postgres() as url:
            engine = make_engine(url)
            t0 = time.perf_counter()
            _setup(engine)
            print(
                f"  setup: {LEADS:,} leads, {TOUCHPOINTS:,} touchpoints "
                f"in {time.perf_counter() - t0:.1f}s (not timed)"
            )

            segment = Segment.model_validate(SEGMENT)
            started = time.perf_counter()
            with engine.connect() as conn:
                n = len(conn.execute(compile_segment(segment, AS_OF)).scalars().all())
            seg_s = time.perf_counter() - started
            print(f"  the issue's segment: {n:,} leads")
            if not SEND:
                report("campaign_segment_seconds", seg_s, "s", "<=", 5)
                return

            transport = SendGridTransport(API_KEY, base_url)
            opts = SendOptions(rate_per_s=100_000, concurrency=4)
            started = time.perf_counter()
            t = time.perf_counter()
            info = resolve_audience(engine, campaign, AS_OF)
            resolve_s = time.perf_counter() - t
            t = time.perf_counter()
            test = send_phase(engine, campaign, AS_OF, "test", transport, opts)
            test_s = time.perf_counter() - t
            paused = time.perf_counter()
            _inject_events(engine, info.message_key, campaign.slug)  # stands for the wait: excluded
            excluded = time.perf_counter() - paused
            t = time.perf_counter()
            decision = decide_winner(engine, campaign, AS_OF)
            decide_s = time.perf_counter() - t
            t = time.perf_counter()
            rest = send_phase(engine, campaign, AS_OF, "rest", transport, opts)
            rest_s = time.perf_counter() - t
            elapsed = time.perf_counter() - started - excluded
            stats = _stats(base_url)
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.select(email_sends.c.variant, sa.func.count())
                    .where(email_sends.c.message_key == info.message_key)
                    .group_by(email_sends.c.variant)
                ).all()
            sent: dict[str, int] = {}
            for phase in (test, rest):
                for v, r in phase["variants"].items():
                    sent[v] = sent.get(v, 0) + r["sent"]
            winner = rest["variants"][decision["winner"]]
            print(
                f"  requests: test {[r['requests'] for r in test['variants'].values()]}, rest "
                f"{[r['requests'] for r in rest['variants'].values()]}, batched {winner['batched']}"
            )
            print(
                f"  audience {info.audience:,} (sendable {info.sendable:,}) in {resolve_s:.1f}s; test cells "
                f"{sum(r['sent'] for r in test['variants'].values()):,} in {test_s:.1f}s; "
                f"winner {decision['winner']} ({decision['reason']}) in {decide_s:.1f}s; "
                f"remainder {winner['sent']:,} in {rest_s:.1f}s"
            )
            print(
                f"  ledger rows per variant: {dict(rows)}; stand-in: {stats['personalizations']:,} accepted, "
                f"{stats['validated']} validated, {stats['invalid']} invalid; "
                f"sent per variant (test + rest): {sent}"
            )
            ok = (
                sum(n for _, n in rows) == info.audience == stats["personalizations"]
                and stats["invalid"] == 0
                and decision["winner"] == "b"
            )
            report("campaign_1m_ab_seconds", elapsed, "s", "<=", 150 * LEADS / 1_000_000)
            report("campaign_all_accounted", 1.0 if ok else 0.0, "bool", ">=", 1)
            report("campaign_peak_rss_mb", peak_rss_mb(), "MB", "<=", 300)
            report("campaign_segment_seconds", seg_s, "s", "<=", 5)
            engine.dispose()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
