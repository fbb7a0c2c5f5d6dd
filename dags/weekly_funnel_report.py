"""
# weekly_funnel_report

Mondays 06:00 in `FUNNELFLOW_REPORT_TZ` (default UTC): the funnel metrics of the ISO week
before the run's time (its logical date, never the wall clock), checked, then emailed to the
stakeholders in `config/reports.yaml`.

1. `compute_metrics`: the week's rows of `funnel_weekly`, `funnel_cohorts`, `funnel_velocity`,
   `email_weekly`, `attribution_weekly`, `webinar_weekly`, `sla_weekly`,
   `sla_rejections_weekly` and `retention_weekly`, replaced in one transaction (and any earlier
   week of the report's 12-week trend that was never computed). SQL: `include/sql/metrics/`;
   SLA medians in business hours use `config/sales_team.yaml`.
2. Data-quality checks (common-sql operators on the `marketing_db` connection, over every
   computed week): attribution credits sum to 1 per conversion, no negative counts (SLA rows
   decide no more items than were due, webinars seat their attendees), SQLs never above the
   leads that exist, each origin dimension adds up to the total, rejections by reason match the
   rejected handoffs, velocity percentiles in order. A failing check fails the run and nothing
   is written or sent.
3. `write_report`: `FUNNELFLOW_HOME/reports/YYYY-Www/` (report.html with its charts, the CSVs,
   report.eml).
4. `send_report`: through the sending layer with the message key `weekly_funnel_report:YYYY-Www`:
   a retried, rerun or cleared run never sends a stakeholder the same week twice.

Past weeks: `airflow backfill create --dag-id weekly_funnel_report --from-date ... --to-date ...`
(one run per Monday), or `python -m funnelflow report backfill --from 2026-W01 --to 2026-W47`.
Definitions of every figure: README.md, "Funnel metrics".

## Owner
marketing-ops (metrics). Failures alert FUNNELFLOW_OPS_EMAIL.

## If it fails
- **Look at:** the failed task's log. `compute_metrics` saying the schema is behind means
  `python -m funnelflow db upgrade`. A failed check's log shows its query and result: compare the
  week's rows with the raw tables (the README defines each figure). A check that cannot connect
  means the `marketing_db` connection is not readable by Airflow's hooks (for SQLite give it in
  JSON form: `{"conn_type": "sqlite", "host": "/abs/path/marketing.db"}`). A
  `config/reports.yaml` error names the file, the line and the fix.
- **Safe to rerun:** yes. The week's rows are replaced in one transaction, nothing is sent
  before every check passed, and the ledger skips stakeholders who already got the week's
  report (message key per week).
- **Tell:** marketing-ops (analytics) on call; the stakeholders in `config/reports.yaml` if the
  report is late past Monday noon.
"""

from __future__ import annotations

from airflow.providers.common.sql.operators.sql import (
    SQLCheckOperator,
    SQLTableCheckOperator,
    SQLValueCheckOperator,
)
from airflow.sdk import dag, task
from airflow.timetables.trigger import CronTriggerTimetable

from funnelflow import settings
from funnelflow.sql import SQL_ROOT
from funnelflow_airflow.common import START_DATE, Tag, default_args, run_as_of

REPORT_TZ = settings.env("FUNNELFLOW_REPORT_TZ", "UTC") or "UTC"
MARKETING_DB = "marketing_db"


@dag(
    dag_id="weekly_funnel_report",
    schedule=CronTriggerTimetable("0 6 * * 1", timezone=REPORT_TZ),
    start_date=START_DATE,
    catchup=False,
    default_args=default_args(),
    tags=[Tag.METRICS, Tag.SENDS_EMAIL],
    doc_md=__doc__,
    template_searchpath=[str(SQL_ROOT)],
    max_active_runs=1,
)
def weekly_funnel_report():
    @task
    def compute_metrics(data_interval_end=None) -> str:
        """The week before the run's time, replaced in one transaction; returns its ISO name."""
        import logging

        from funnelflow.metrics.compute import compute_for_report
        from funnelflow.metrics.weeks import Week
        from funnelflow_airflow.db import marketing_engine

        week = Week.before(run_as_of(data_interval_end))
        for result in compute_for_report(marketing_engine(), week):
            logging.getLogger(__name__).info("computed %s: %s", result.week, result.rows)
        return week.iso

    checks = [
        SQLCheckOperator(
            task_id="check_attribution_credits_sum_to_one",
            conn_id=MARKETING_DB,
            sql="metrics/checks/attribution_credits_sum_to_one.sql",
        ),
        SQLCheckOperator(
            task_id="check_counts_not_negative",
            conn_id=MARKETING_DB,
            sql="metrics/checks/counts_not_negative.sql",
        ),
        SQLValueCheckOperator(
            task_id="check_sql_not_above_existing_leads",
            conn_id=MARKETING_DB,
            sql="metrics/checks/sql_above_existing_leads.sql",
            pass_value=0,
        ),
        SQLValueCheckOperator(
            task_id="check_dimensions_add_up",
            conn_id=MARKETING_DB,
            sql="metrics/checks/dimensions_add_up.sql",
            pass_value=0,
        ),
        SQLValueCheckOperator(
            task_id="check_rejections_match_handoffs",
            conn_id=MARKETING_DB,
            sql="metrics/checks/rejections_match_handoffs.sql",
            pass_value=0,
        ),
        SQLTableCheckOperator(
            task_id="check_velocity",
            conn_id=MARKETING_DB,
            table="funnel_velocity",
            checks={
                "leads_not_negative": {"check_statement": "leads >= 0"},
                "median_not_above_p90": {"check_statement": "median_days IS NULL OR median_days <= p90_days"},
                "no_negative_days": {"check_statement": "median_days IS NULL OR median_days >= 0"},
            },
        ),
    ]

    @task
    def write_report(week: str) -> str:
        """report.html, charts, CSVs and report.eml under FUNNELFLOW_HOME/reports/<week>/."""
        from funnelflow.metrics.config import load_reports_config
        from funnelflow.metrics.report import build_report, save_report
        from funnelflow.metrics.weeks import Week
        from funnelflow_airflow.db import marketing_engine

        stakeholders = [s.email for s in load_reports_config().weekly_funnel_report.stakeholders]
        return str(save_report(build_report(marketing_engine(), Week.parse(week)), stakeholders))

    @task
    def send_report(week: str, data_interval_end=None) -> dict:
        """Email the stakeholders; the ledger makes it once per stakeholder and week."""
        from funnelflow.metrics.config import load_reports_config
        from funnelflow.metrics.report import build_report, send_report
        from funnelflow.metrics.weeks import Week
        from funnelflow_airflow.db import marketing_engine
        from funnelflow_airflow.sending import email_transport

        engine = marketing_engine()
        stakeholders = [s.email for s in load_reports_config().weekly_funnel_report.stakeholders]
        report = build_report(engine, Week.parse(week))
        return send_report(
            engine, report, stakeholders, email_transport(), run_as_of(data_interval_end)
        ).as_dict()

    week = compute_metrics()
    written = write_report(week)
    week >> checks
    checks >> written
    written >> send_report(week)


dag_obj = weekly_funnel_report()

if __name__ == "__main__":
    dag_obj.test()
