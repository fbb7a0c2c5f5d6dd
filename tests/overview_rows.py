"""A small funnel as of Tuesday 1 December 2026, 10:00 UTC: what the Funnel page and ``status`` are tested on.

- leads: two MQLs, one SQL, and one MQL merged into another (history, not counted by the page);
- campaign files: ``weekly-news`` (cron Tuesdays 09:00 Berlin), ``old-once`` (once, in the past),
  ``broken`` (invalid); runs of weekly-news on 17 and 24 November (the last: 2 delivered of
  which 1 opened and clicked, 1 bounced) and one on 8 December, after the as-of time;
- webinars: ``dec-demo`` on 10 December (capacity 2: 1 registered, 1 waitlisted), one over, one cancelled;
- the sales queue: open items breached, due soon, on track and acted on; one accepted, one unassigned;
- metrics: weeks 2026-W47 and W48 computed (W48: 12 new leads, 5 MQLs, 2 SQLs, 1 customer), W49
  computed but not over; ``FUNNELFLOW_HOME/reports/2026-W48/report.html`` saved.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from funnelflow.db.schema import (
    campaign_runs,
    email_sends,
    email_weekly,
    funnel_weekly,
    leads,
    metrics_weeks,
    sales_queue,
    touchpoints,
    webinar_registrations,
    webinars,
)
from funnelflow.identity import email_hash

AS_OF = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)

WEEKLY = """\
name: Weekly news
description: The week's news
owner: marketing-ops
schedule: {cron: "0 9 * * TUE", timezone: Europe/Berlin}
audience:
  all:
    - lifecycle_stage: [lead, mql]
content: {markdown: news.md}
subject: News of the week
"""
ONCE = WEEKLY.replace("Weekly news", "Old announcement").replace(
    '{cron: "0 9 * * TUE", timezone: Europe/Berlin}',
    '{once: "2026-11-04T10:00:00+01:00", timezone: Europe/Berlin}',
)


def write_campaigns(config_dir: Path) -> Path:
    folder = config_dir / "campaigns"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "news.md").write_text("# News\n\nWhat happened.\n")
    (folder / "weekly-news.yaml").write_text(WEEKLY)
    (folder / "old-once.yaml").write_text(ONCE)
    (folder / "broken.yaml").write_text("name: Broken\nschedule: {cron: 'not a cron'}\n")
    return folder


def _run(conn: sa.Connection, slug: str, as_of: datetime, status: str, audience: int, sendable: int) -> str:
    key = as_of.strftime("%Y%m%dT%H%M%SZ")
    conn.execute(
        sa.insert(campaign_runs).values(
            campaign=slug,
            run_key=key,
            as_of=as_of,
            status=status,
            audience=audience,
            sendable=sendable,
            resolved_at=as_of,
        )
    )
    return f"campaign:{slug}:{key}"


def _send(conn: sa.Connection, key: str, n: int, status: str, variant: str, at: datetime) -> int:
    return conn.execute(
        sa.insert(email_sends)
        .values(
            message_key=key,
            recipient_hash=email_hash(f"person{n}@example.org"),
            campaign_id=key.split(":")[1],
            template="newsletter",
            kind="marketing",
            status=status,
            variant=variant,
            claimed_at=at,
            sent_at=at,
        )
        .returning(email_sends.c.id)
    ).scalar_one()


def _touch(conn: sa.Connection, lead: int, slug: str, touch_type: str, send_id: int, at: datetime) -> None:
    conn.execute(
        sa.insert(touchpoints).values(
            lead_id=lead,
            occurred_at=at,
            channel="email",
            touch_type=touch_type,
            campaign=slug,
            detail={"send_id": send_id},
            scored=True,
        )
    )


def _week(conn: sa.Connection, start: date) -> None:
    starts = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    year, number, _ = start.isocalendar()
    conn.execute(
        sa.insert(metrics_weeks).values(
            week_start=start,
            iso_week=f"{year}-W{number:02d}",
            timezone="UTC",
            starts_at=starts,
            ends_at=starts + timedelta(days=7),
            computed_at=AS_OF,
        )
    )


def fill(engine: sa.Engine, home: Path) -> dict[str, int]:
    """The rows above; returns ids a test may need."""
    with engine.begin() as conn:
        ids = [
            conn.execute(sa.insert(leads).values(lifecycle_stage=stage).returning(leads.c.id)).scalar_one()
            for stage in ("mql", "mql", "sql")
        ]
        conn.execute(sa.insert(leads).values(lifecycle_stage="mql", merged_into_id=ids[0]))

        older = _run(conn, "weekly-news", datetime(2026, 11, 17, 8, tzinfo=UTC), "done", 9, 9)
        _send(conn, older, 90, "delivered", "a", datetime(2026, 11, 17, 8, tzinfo=UTC))
        at = datetime(2026, 11, 24, 8, tzinfo=UTC)
        last = _run(conn, "weekly-news", at, "done", 4, 3)
        opened = _send(conn, last, 1, "delivered", "a", at)
        _send(conn, last, 2, "delivered", "b", at)
        _send(conn, last, 3, "bounced", "b", at)
        _touch(conn, ids[0], "weekly-news", "email_open", opened, at + timedelta(hours=1))
        _touch(conn, ids[0], "weekly-news", "email_click", opened, at + timedelta(hours=1))
        later = _run(conn, "weekly-news", datetime(2026, 12, 8, 8, tzinfo=UTC), "resolved", 50, 50)
        _send(conn, later, 80, "claimed", "a", datetime(2026, 12, 8, 8, tzinfo=UTC))

        def webinar(
            slug: str, starts: datetime, status: str = "scheduled", capacity: int = 2, seats: int = 0
        ):
            return conn.execute(
                sa.insert(webinars)
                .values(
                    slug=slug,
                    title=f"Webinar {slug}",
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=1),
                    timezone="Europe/Berlin",
                    capacity=capacity,
                    seats_taken=seats,
                    status=status,
                    schedule_hash="x" * 64,
                    join_url="https://zoom.example.com/j/1",
                )
                .returning(webinars.c.id)
            ).scalar_one()

        demo = webinar("dec-demo", datetime(2026, 12, 10, 15, tzinfo=UTC), seats=1)
        webinar("nov-demo", datetime(2026, 11, 20, 15, tzinfo=UTC))
        webinar("called-off", datetime(2026, 12, 3, 15, tzinfo=UTC), status="cancelled")
        for lead, status in ((ids[0], "registered"), (ids[1], "waitlisted")):
            conn.execute(
                sa.insert(webinar_registrations).values(
                    webinar_id=demo,
                    lead_id=lead,
                    status=status,
                    source="form",
                    holds_seat=status == "registered",
                    registered_at=AS_OF - timedelta(days=1),
                )
            )

        hour = timedelta(hours=1)
        items = [
            # (status, remind_at, due_at, first_action_at)
            ("open", AS_OF - 30 * hour, AS_OF - 20 * hour, None),  # breached
            ("open", AS_OF - hour, AS_OF + 4 * hour, None),  # due soon
            ("open", AS_OF + hour, AS_OF + 8 * hour, None),  # on track
            ("open", AS_OF - 30 * hour, AS_OF - 20 * hour, AS_OF - 25 * hour),  # acted on in time
            ("accepted", AS_OF - 30 * hour, AS_OF - 20 * hour, AS_OF - 25 * hour),
            ("unassigned", None, None, None),
        ]
        for n, (status, remind, due, acted) in enumerate(items):
            conn.execute(
                sa.insert(sales_queue).values(
                    lead_id=ids[2],
                    entry_key=f"sql:{ids[2]}:{n}",
                    kind="handoff",
                    status=status,
                    entered_at=AS_OF - 40 * hour,
                    remind_at=remind,
                    due_at=due,
                    first_action_at=acted,
                )
            )

        for start in (date(2026, 11, 16), date(2026, 11, 23), date(2026, 11, 30)):
            _week(conn, start)
        conn.execute(
            sa.insert(funnel_weekly).values(
                week_start=date(2026, 11, 23),
                dimension="all",
                value="all",
                new_leads=12,
                mql=5,
                sql=2,
                customer=1,
            )
        )
        conn.execute(
            sa.insert(funnel_weekly).values(
                week_start=date(2026, 11, 30), dimension="all", value="all", new_leads=99
            )
        )
        for campaign, sent, opens, clicks in (("weekly-news", 3, 1, 0), ("(none)", 7, 0, 2)):
            conn.execute(
                sa.insert(email_weekly).values(
                    week_start=date(2026, 11, 23),
                    campaign=campaign,
                    sent=sent,
                    unique_opens=opens,
                    unique_clicks=clicks,
                )
            )
    folder = home / "reports" / "2026-W48"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.html").write_text(
        '<html><body><h1>Week 2026-W48</h1><img src="funnel.png"></body></html>'
    )
    return {"registered": ids[0]}
