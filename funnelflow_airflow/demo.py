"""``make demo``: a fresh local database, twelve weeks of synthetic history, every DAG once through Airflow.

Arrivals are spread over the twelve weeks before the demo's day; after ingestion, ``synth
history`` replays the eleven weeks before it through the domain code in one process (scoring,
routing, the SLA sweep, rep feedback, CRM deals: ``funnelflow.synth.history``), then every DAG
runs once at the demo's date, and the weekly report (run the Monday after) has a 12-week trend.

Deterministic: the database and the local state folders are rebuilt, the data
is generated from a fixed seed around a fixed date, and every DAG runs at the
same logical date, so running it twice prints the same result.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from funnelflow import settings
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
DEMO_SEED = "42"
HISTORY_WEEKS = "12"  # the weekly report's trend
# Local state that the demo owns and rebuilds; Airflow's own home is kept (migrated once).
DEMO_STATE = ("marketing.db", "marketing.db-wal", "marketing.db-shm", "inbox", "outbox", "reports")


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
    print(f"funnelflow demo in {home}")
    _run([py, "-m", "funnelflow", "db", "upgrade"], env)
    _run([py, "-m", "funnelflow", "synth", "demo", "--seed", DEMO_SEED, "--until", DEMO_LOGICAL_DATE], env)
    for dag_id in DEMO_DAGS:
        conf = ["--conf", DEMO_CONF[dag_id]] if dag_id in DEMO_CONF else []
        logical_date = DEMO_DATES.get(dag_id, DEMO_LOGICAL_DATE)
        _run([py, "-m", "airflow", "dags", "test", dag_id, logical_date, *conf], env)
        if dag_id == "lead_ingestion":  # the weeks before the demo's day, before its own qualification run
            history = ["synth", "history", "--seed", DEMO_SEED, "--until", DEMO_LOGICAL_DATE]
            _run([py, "-m", "funnelflow", *history, "--weeks", HISTORY_WEEKS], env)
    # The sales side the DAGs cannot show alone: an accept, a reject, a CRM win, a CTI lookup.
    subprocess.run(
        [py, "-m", "funnelflow", "sales", "demo", "--as-of", DEMO_LOGICAL_DATE], env=env, check=True
    )
    print(f"webinar {DEMO_WEBINAR}: from invitation to follow-up")
    for what, step in webinar_walk(DEMO_WEBINAR, home):
        print(f"  {what}")
        _run([py, "-m", *step], env)
    subprocess.run([py, "-m", "funnelflow", "webinars", "status", DEMO_WEBINAR], env=env, check=True)
    # As of the demo's date, not today: the breaker's 7-day window would move with the wall clock.
    subprocess.run([py, "-m", "funnelflow", "status", "--as-of", DEMO_LOGICAL_DATE], env=env, check=True)
    report_week = Week.before(datetime.fromisoformat(DEMO_DATES["weekly_funnel_report"]))
    print(
        f"weekly funnel report: {report_dir(report_week) / 'report.html'} "
        f"(one folder per ISO week in {home / 'reports'}, report.html opens in a browser)"
    )
    print(f"campaign {DEMO_CAMPAIGN}: sent per subject variant")
    subprocess.run([py, "-m", "funnelflow", "campaigns", "results", DEMO_CAMPAIGN], env=env, check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
