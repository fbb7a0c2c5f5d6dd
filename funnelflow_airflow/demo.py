"""``make demo``: a fresh local database, twelve weeks of synthetic history, every DAG once through Airflow.

Arrivals are spread over the twelve weeks before the demo's day; after ingestion, ``synth
history`` replays the eleven weeks before it through the domain code in one process (scoring,
routing, the SLA sweep, rep feedback, CRM deals: ``funnelflow.synth.history``), then every DAG
runs once at the demo's date, and the weekly report (run the Monday after, after ``synth events``
made the SendGrid events of the demo's week) has a 12-week trend.

Deterministic: the database and the local state folders are rebuilt, the data
is generated from a fixed seed around a fixed date, and every DAG runs at the
same logical date, so running it twice prints the same result.

The demo's clock (``funnelflow.clock``): every step it starts, command or DAG run, gets
``FUNNELFLOW_CLOCK_OFFSET`` so what it stamps with the time it happened (a send's ``sent_at``,
a row's ``created_at``) falls at the demo's dates, not on the day ``make demo`` is run. The
clock starts at the demo's date and runs on with the real one; a step at another date (the
weekly report, the webinar walk) runs at that date, and no step stamps a time before an earlier
step of its date or an earlier one did (``lead_qualification`` leaves leads changed after its
start for its next run): ``DemoClock``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from funnelflow import clock, settings
from funnelflow.metrics.report import report_dir
from funnelflow.metrics.weeks import Week

# Every DAG in dags/, in the order the funnel flows (a test keeps this complete).
DEMO_DAGS: tuple[str, ...] = (
    "lead_ingestion",
    "lead_qualification",
    "welcome_emails",
    "email_engagement",
    "sendgrid_suppression_sync",
    "sales_handoff",
    "sales_digest",
    "crm_sync",
    "campaign_december-newsletter",  # one campaign file (dags/campaigns.py makes one DAG per file)
    "webinars",
    "forget_person",
    "weekly_funnel_report",
)
DEMO_CAMPAIGN = "december-newsletter"
DEMO_WEBINAR = "retirement-planning-2026-12"  # walked from invitation to follow-up (webinar_walk)
# Run configuration for DAGs that need one (manual DAGs with params), as JSON text.
DEMO_CONF: dict[str, str] = {
    # Erases the first contact of the synthetic HubSpot export (seed 42), named by the hash of
    # their address (`python -m funnelflow privacy hash`), never by the address.
    # The A/B test waits minutes, not the file's 4 hours (an ad-hoc run's param).
    "campaign_december-newsletter": '{"wait_hours": 0.01}',
    "forget_person": '{"person": "74fb7eeed3525183352e0977e21b01b103baa3b04ee8b29d5b76dae8ca60ffef"}',
}

DEMO_LOGICAL_DATE = "2026-11-23T12:00:00+00:00"
# DAGs run at another logical date. The weekly report reports the ISO week before its run: run on
# the Monday after the demo's day, it covers the week in which qualification (run at
# DEMO_LOGICAL_DATE) moved the demo's leads, and its trend holds the weeks they arrived in.
DEMO_DATES: dict[str, str] = {"weekly_funnel_report": "2026-11-30T06:00:00+00:00"}
# The demo's week has no provider to post events about its emails: ``synth events`` makes them,
# up to an hour before the report runs (funnelflow.synth.mail.events_since).
EVENTS_AS_OF = "2026-11-30T05:00:00+00:00"
DEMO_SEED = "42"
HISTORY_WEEKS = "12"  # the weekly report's trend
# Local state that the demo owns and rebuilds; Airflow's own home is kept (migrated once).
DEMO_STATE = ("marketing.db", "marketing.db-wal", "marketing.db-shm", "inbox", "outbox", "reports")


class DemoClock:
    """The demo's time, step by step: a step runs at its own date (its ``--as-of`` or logical date),
    but never before the time an earlier step of the same or an earlier date reached, so the steps
    of one date stamp one after another as they would in production. A step without a date runs
    on from the last one."""

    def __init__(self, start: datetime):
        self.reached: list[tuple[datetime, datetime]] = [(start, start)]  # (step's date, time at its end)

    def start(self, step_at: datetime | None) -> datetime:
        if step_at is None:
            return self.reached[-1][1]
        return max([step_at, *(end for at, end in self.reached if at <= step_at)])

    @contextmanager
    def step(self, env: dict[str, str], step_at: datetime | None) -> Iterator[dict[str, str]]:
        """``env`` with the ``FUNNELFLOW_CLOCK_OFFSET`` of a step at ``step_at``; records where it ended."""
        begins, real = self.start(step_at), datetime.now(UTC)
        yield {**env, clock.OFFSET_ENV: clock.offset_to(begins, real)}
        self.reached.append((step_at or begins, begins + (datetime.now(UTC) - real)))


def step_time(cmd: list[str]) -> datetime | None:
    """The time a step runs at: its ``--as-of``, or the logical date of ``airflow dags test``."""
    if "--as-of" in cmd:
        return datetime.fromisoformat(cmd[cmd.index("--as-of") + 1])
    for i in range(len(cmd) - 3):
        if cmd[i : i + 3] == ["airflow", "dags", "test"]:
            return datetime.fromisoformat(cmd[i + 4])
    return None


def _run(cmd: list[str], env: dict[str, str], quiet: bool = True) -> None:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=quiet, text=True, check=False)
    if proc.returncode != 0:
        if quiet:
            sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"demo step failed: {' '.join(cmd[2:])}")
    print(f"  done in {time.perf_counter() - started:.1f}s: {' '.join(cmd[2:])}")


def webinar_walk(slug: str, home: Path) -> list[tuple[str, list[str]]]:
    """The steps that take one webinar from its first invitation wave to its follow-ups: the webinars
    DAG at each step's run time, the guests registering between, the platform's report after the end.

    Every time comes from the webinar's file, so the walk follows the file if marketing moves it."""
    from funnelflow.webinars.config import webinar_named

    webinar = webinar_named(slug)
    first_wave, starts, ends = webinar.wave_times[0], webinar.starts_at, webinar.ends_at
    registered_at = first_wave + timedelta(days=1)
    report = home / "inbox" / "webinars" / f"{slug}-zoom-attendee-report.csv"

    def dag_at(at: datetime) -> list[str]:
        return ["airflow", "dags", "test", "webinars", at.isoformat()]

    return [
        ("the first invitation wave", dag_at(first_wave + timedelta(minutes=15))),
        (
            "guests register (one click, the page)",
            [
                "funnelflow",
                "webinars",
                "demo",
                slug,
                "--as-of",
                registered_at.isoformat(),
                "--report",
                str(report),
            ],
        ),
        ("confirmations with the calendar file", dag_at(registered_at + timedelta(minutes=15))),
        ("the second wave and the 24-hour reminder", dag_at(starts - timedelta(hours=23, minutes=45))),
        ("the 1-hour reminder", dag_at(starts - timedelta(minutes=45))),
        (
            "the platform's attendee report",
            [
                "funnelflow",
                "webinars",
                "attendance",
                slug,
                str(report),
                "--as-of",
                (ends + timedelta(minutes=30)).isoformat(),
            ],
        ),
        ("follow-ups: recording and next step, recording, apology", dag_at(ends + timedelta(minutes=45))),
    ]


def main() -> int:
    home = settings.funnelflow_home()
    env = os.environ.copy()
    # The demo always uses the embedded SQLite database in FUNNELFLOW_HOME, whatever the shell says,
    # in the JSON form that Airflow's SQL hooks (the weekly report's checks) read as well as funnelflow.
    env["AIRFLOW_CONN_MARKETING_DB"] = json.dumps({"conn_type": "sqlite", "host": str(home / "marketing.db")})
    env.setdefault("FUNNELFLOW_EMAIL_TRANSPORT", "outbox")
    for name in DEMO_STATE:
        path = home / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    py = sys.executable
    demo_clock = DemoClock(datetime.fromisoformat(DEMO_LOGICAL_DATE))

    def run(cmd: list[str]) -> None:
        with demo_clock.step(env, step_time(cmd)) as step_env:
            _run(cmd, step_env)

    def show(cmd: list[str]) -> None:
        with demo_clock.step(env, step_time(cmd)) as step_env:
            subprocess.run(cmd, env=step_env, check=True)

    print(f"funnelflow demo in {home}")
    run([py, "-m", "funnelflow", "db", "upgrade"])
    run([py, "-m", "funnelflow", "synth", "demo", "--seed", DEMO_SEED, "--until", DEMO_LOGICAL_DATE])
    for dag_id in DEMO_DAGS:
        conf = ["--conf", DEMO_CONF[dag_id]] if dag_id in DEMO_CONF else []
        logical_date = DEMO_DATES.get(dag_id, DEMO_LOGICAL_DATE)
        if dag_id == "weekly_funnel_report":  # what SendGrid would have posted about the week's emails
            report_week = Week.before(datetime.fromisoformat(logical_date))
            events = ["synth", "events", "--seed", DEMO_SEED, "--since", report_week.starts_at.isoformat()]
            run([py, "-m", "funnelflow", *events, "--as-of", EVENTS_AS_OF])
        run([py, "-m", "airflow", "dags", "test", dag_id, logical_date, *conf])
        if dag_id == "lead_ingestion":  # the weeks before the demo's day, before its own qualification run
            history = ["synth", "history", "--seed", DEMO_SEED, "--until", DEMO_LOGICAL_DATE]
            run([py, "-m", "funnelflow", *history, "--weeks", HISTORY_WEEKS])
    # The sales side the DAGs cannot show alone: an accept, a reject, a CRM win, a CTI lookup.
    show([py, "-m", "funnelflow", "sales", "demo", "--as-of", DEMO_LOGICAL_DATE])
    print(f"webinar {DEMO_WEBINAR}: from invitation to follow-up")
    for what, step in webinar_walk(DEMO_WEBINAR, home):
        print(f"  {what}")
        run([py, "-m", *step])
    show([py, "-m", "funnelflow", "webinars", "status", DEMO_WEBINAR])
    # As of the demo's date, not today: the breaker's 7-day window would move with the wall clock.
    show([py, "-m", "funnelflow", "status", "--as-of", DEMO_LOGICAL_DATE])
    report_week = Week.before(datetime.fromisoformat(DEMO_DATES["weekly_funnel_report"]))
    print(
        f"weekly funnel report: {report_dir(report_week) / 'report.html'} "
        f"(one folder per ISO week in {home / 'reports'}, report.html opens in a browser)"
    )
    print(f"campaign {DEMO_CAMPAIGN}: sent per subject variant")
    show([py, "-m", "funnelflow", "campaigns", "results", DEMO_CAMPAIGN])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
