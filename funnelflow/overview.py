"""The funnel now, in one place: what the Airflow UI's Funnel page and ``status`` show.

Plain reads over the marketing database and the campaign files, no Airflow: the page in
``funnelflow_airflow/funnel_page.py`` renders what ``funnel_overview`` returns, and
``python -m funnelflow status`` prints the same sections. Every figure is judged as of
the ``as_of`` given (the page passes now; ``status --as-of`` any time), never the wall clock.

Sections:

- ``report``: the newest computed whole week of the weekly report (metrics tables) and
  whether its file ``FUNNELFLOW_HOME/reports/YYYY-Www/report.html`` exists;
- ``campaigns``: every campaign file with its next run (the schedule relative to
  ``as_of``) and its last run's results from the send ledger and the events
  (``funnelflow.campaigns.run.variant_stats``, the same numbers as ``campaigns results``);
- ``webinars``: those not yet over, with registered, waitlisted and seats of capacity;
- ``queue``: the sales queue by status, and its SLA: open items nobody has acted on,
  due soon (the reminder time, half the SLA, has passed) and breached (due time passed);
- ``leads_by_stage``, ``sends_by_status``: counts, every known value listed.

Counts and names of things only, never a person.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from funnelflow import settings
from funnelflow.db.schema import (
    LIFECYCLE_STAGES,
    QUEUE_STATUSES,
    SEND_STATUSES,
    campaign_runs,
    email_sends,
    email_weekly,
    funnel_weekly,
    leads,
    metrics_weeks,
    sales_queue,
    webinar_registrations,
    webinars,
)

REPORT_WEEK = re.compile(r"^\d{4}-W\d{2}$")
UPCOMING_WEBINARS = 10
RESULT_FIGURES = ("sent", "delivered", "opens", "clicks", "unsubscribes", "bounces", "spam_reports")


def _aware(as_of: datetime) -> datetime:
    return as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of.astimezone(UTC)


def counts_by(conn: sa.Connection, column: sa.Column, names: tuple[str, ...]) -> dict[str, int]:
    """Rows per value of ``column``, every known value listed (0 when none), unknown ones after them."""
    found = dict(conn.execute(sa.select(column, sa.func.count()).group_by(column)).all())
    return {name: found.pop(name, 0) for name in names} | dict(sorted(found.items()))


# --------------------------------------------------------------------------- the weekly report


def _iso(week_start: date) -> str:
    year, number, _ = week_start.isocalendar()
    return f"{year}-W{number:02d}"


def reports_dir() -> Path:
    return settings.funnelflow_home() / "reports"


def report_file(week: str) -> Path | None:
    """``reports/<week>/report.html`` if it exists; ``None`` otherwise (a bad week name included)."""
    if not REPORT_WEEK.match(week):
        return None
    path = reports_dir() / week / "report.html"
    return path if path.is_file() else None


def latest_report(conn: sa.Connection, as_of: datetime) -> dict[str, Any] | None:
    """The newest week computed and over by ``as_of``: its headline figures and its report file.

    Without a computed week, the newest report folder (a report built elsewhere and
    copied in) is still named, with no figures. ``None``: no report at all.
    """
    week = conn.execute(
        sa.select(metrics_weeks)
        .where(metrics_weeks.c.ends_at <= as_of)
        .order_by(metrics_weeks.c.week_start.desc())
        .limit(1)
    ).first()
    if week is None:
        folders = reports_dir().glob("????-W??/report.html") if reports_dir().is_dir() else []
        names = sorted(p.parent.name for p in folders if REPORT_WEEK.match(p.parent.name))
        if not names:
            return None
        return {"week": names[-1], "period": None, "figures": None, "email": None, "file": True}
    funnel = conn.execute(
        sa.select(
            funnel_weekly.c.new_leads, funnel_weekly.c.mql, funnel_weekly.c.sql, funnel_weekly.c.customer
        ).where(funnel_weekly.c.week_start == week.week_start, funnel_weekly.c.dimension == "all")
    ).first()
    email = conn.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(email_weekly.c.sent), 0),
            sa.func.coalesce(sa.func.sum(email_weekly.c.unique_opens), 0),
            sa.func.coalesce(sa.func.sum(email_weekly.c.unique_clicks), 0),
        ).where(email_weekly.c.week_start == week.week_start)
    ).one()
    iso = _iso(week.week_start)
    figures = dict(funnel._mapping) if funnel else dict.fromkeys(("new_leads", "mql", "sql", "customer"), 0)
    return {
        "week": iso,
        "period": (week.starts_at, week.ends_at, week.timezone),
        "figures": figures,  # a computed week without a row had no activity: zeros
        "email": {"sent": int(email[0]), "unique_opens": int(email[1]), "unique_clicks": int(email[2])},
        "file": report_file(iso) is not None,
    }


# --------------------------------------------------------------------------- campaigns


def next_run(schedule: Any, after: datetime) -> datetime | None:
    """The next run strictly after ``after`` (UTC), as Airflow's timetable fires it; None: no more runs."""
    if schedule.cron:
        from croniter import croniter

        local = after.astimezone(schedule.zone)
        return croniter(schedule.cron, local).get_next(datetime).astimezone(UTC)
    once = schedule.once.astimezone(UTC)
    return once if once > after else None


def campaigns_overview(
    conn: sa.Connection, as_of: datetime, folder: Path | None = None
) -> list[dict[str, Any]]:
    """Each campaign file (and any campaign with runs but no file): next run, last run and its results."""
    from funnelflow.campaigns.config import load_all
    from funnelflow.campaigns.run import message_key, variant_stats

    good, bad = load_all(folder)
    newest = (
        sa.select(campaign_runs.c.campaign, sa.func.max(campaign_runs.c.as_of).label("as_of"))
        .where(campaign_runs.c.as_of <= as_of)
        .group_by(campaign_runs.c.campaign)
        .subquery()
    )
    last_runs = {
        r.campaign: r
        for r in conn.execute(
            sa.select(campaign_runs).join(
                newest,
                sa.and_(
                    campaign_runs.c.campaign == newest.c.campaign, campaign_runs.c.as_of == newest.c.as_of
                ),
            )
        )
    }
    rows: list[dict[str, Any]] = []
    for c in good:
        s = c.spec.schedule
        rows.append(
            {
                "slug": c.slug,
                "name": c.spec.name,
                "schedule": f"cron {s.cron}" if s.cron else f"once {s.once.isoformat()}",
                "timezone": s.timezone,
                "next_run": next_run(s, as_of),
                "error": None,
            }
        )
    for slug, error in bad.items():
        rows.append(
            {"slug": slug, "name": None, "schedule": None, "timezone": None, "next_run": None, "error": error}
        )
    named = {r["slug"] for r in rows}
    for slug in sorted(set(last_runs) - named):  # the file is gone; its runs are still history
        rows.append(
            {"slug": slug, "name": None, "schedule": None, "timezone": None, "next_run": None, "error": None}
        )
    for row in rows:
        run = last_runs.get(row["slug"])
        row["last_run"] = None
        if run is not None:
            by_variant = variant_stats(conn, run.campaign, message_key(run.campaign, run.run_key))
            totals = {f: sum(v[f] for v in by_variant.values()) for f in RESULT_FIGURES}
            row["last_run"] = {
                "as_of": run.as_of,
                "status": run.status,
                "audience": run.audience,
                "sendable": run.sendable,
                "winner": run.winner,
                **totals,
            }
    far = datetime.max.replace(tzinfo=UTC)
    rows.sort(key=lambda r: (r["next_run"] or far, r["slug"]))
    return rows


# --------------------------------------------------------------------------- webinars


def upcoming_webinars(conn: sa.Connection, as_of: datetime, limit: int = UPCOMING_WEBINARS) -> list[dict]:
    """Scheduled webinars not over by ``as_of``, soonest first, with their registrations by status."""
    r = webinar_registrations.c
    registered = sa.func.count().filter(r.status == "registered")
    waitlisted = sa.func.count().filter(r.status == "waitlisted")
    stmt = (
        sa.select(
            webinars.c.slug,
            webinars.c.title,
            webinars.c.starts_at,
            webinars.c.timezone,
            webinars.c.capacity,
            webinars.c.seats_taken,
            registered.label("registered"),
            waitlisted.label("waitlisted"),
        )
        .select_from(webinars.outerjoin(webinar_registrations, r.webinar_id == webinars.c.id))
        .where(webinars.c.status == "scheduled", webinars.c.ends_at > as_of)
        .group_by(webinars.c.id)
        .order_by(webinars.c.starts_at, webinars.c.slug)
        .limit(limit)
    )
    return [dict(row._mapping) for row in conn.execute(stmt)]


# --------------------------------------------------------------------------- the sales queue


def queue_overview(conn: sa.Connection, as_of: datetime) -> dict[str, Any]:
    """Items by status, and the SLA of open items nobody has acted on yet, as of ``as_of``."""
    q = sales_queue.c
    waiting = sa.and_(q.status == "open", q.first_action_at.is_(None))
    breached = sa.and_(waiting, q.due_at <= as_of)
    due_soon = sa.and_(waiting, q.due_at > as_of, q.remind_at <= as_of)
    sla = conn.execute(
        sa.select(
            sa.func.count().filter(q.status == "open"),
            sa.func.count().filter(waiting),
            sa.func.count().filter(due_soon),
            sa.func.count().filter(breached),
            sa.func.min(q.due_at).filter(breached),
        )
    ).one()
    return {
        "by_status": counts_by(conn, q.status, QUEUE_STATUSES),
        "open": sla[0],
        "waiting": sla[1],  # open, no first action yet
        "due_soon": sla[2],
        "breached": sla[3],
        "oldest_breach_due_at": sla[4],
    }


# --------------------------------------------------------------------------- all of it


def funnel_overview(
    engine: sa.Engine, as_of: datetime, campaigns_folder: Path | None = None
) -> dict[str, Any]:
    as_of = _aware(as_of)
    with engine.connect() as conn:
        live = dict(  # merged and erased leads are history, not people in the funnel
            conn.execute(
                sa.select(leads.c.lifecycle_stage, sa.func.count())
                .where(leads.c.merged_into_id.is_(None), leads.c.erased_at.is_(None))
                .group_by(leads.c.lifecycle_stage)
            ).all()
        )
        return {
            "as_of": as_of,
            "report": latest_report(conn, as_of),
            "campaigns": campaigns_overview(conn, as_of, campaigns_folder),
            "webinars": upcoming_webinars(conn, as_of),
            "queue": queue_overview(conn, as_of),
            "leads_by_stage": [(stage, live.get(stage, 0)) for stage in LIFECYCLE_STAGES],
            "sends_by_status": list(counts_by(conn, email_sends.c.status, SEND_STATUSES).items()),
        }
