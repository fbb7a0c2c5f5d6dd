"""
# lead_qualification

Runs when `funnelflow://leads/ingested` or `funnelflow://leads/engaged` is
updated, and daily at 03:00 UTC so engagement scores decay.

1. `validate_and_normalize`: email syntax/domain checks and free, disposable and
   role flags; phones to E.164; names and titles cleaned; seniority and department.
2. `enrich`: account and firmographics for business email domains, from the
   provider in FUNNELFLOW_ENRICHMENT_PROVIDER (cached, refreshed after the TTL);
   a value a person typed is never overwritten.
3. `dedupe`: likely duplicates merged above the high bar, listed for review
   between the bars (`python -m funnelflow merges list`).
4. `score_and_stage`: fit, grade, decayed engagement, breakdown and lifecycle
   stage by `config/scoring.yaml` and `config/sales_rules.yaml`, as of the run's
   data interval end (asset-triggered runs: when the run was due), in set-based
   SQL; a stage change is a `lifecycle_history` row. The daily run re-scores
   every lead; the others only leads changed since they were last qualified.
   A broken rules file is reported (file, line, fix) and the last good rules run.
5. `announce_sales_qualified` updates `funnelflow://leads/sales-qualified`
   only when a lead became SQL (skipped otherwise: no asset event).
6. `refresh_metrics_origins` brings the maintained lead origins and first stage
   entries up to date for the leads changed since the last refresh, so Monday's
   weekly metrics run does not carry a week of changes (`report origins` does the same).

Steps 1-3 touch only leads changed since the last run and keep `updated_at`;
every step is idempotent. Logs carry counts, never addresses or names.

## If it fails
- **Look at:** the failed task's log (counts only). A broken rules file does not fail the
  run: the last good rules keep running and operations get one alert a day with the file,
  the line and the fix (`python -m funnelflow rules check`). An enrichment failure names its
  connection (`FUNNELFLOW_ENRICHMENT_CONN_ID`); a schema error names `python -m funnelflow db
  upgrade`.
- **Safe to rerun:** yes, clear the failed task or the run: every step is idempotent and
  computes as of the run's own time, so a rerun gives the same scores and stages, writes no
  second `lifecycle_history` row and announces no lead twice.
- **Tell:** marketing-ops (qualify) on call; sales ops when new SQLs are more than an hour
  late; marketing when their scoring file was rejected.

## Owner
marketing-ops (qualify). Scoring rules: marketing; SQL rules: sales. Failures
alert FUNNELFLOW_OPS_EMAIL. See docs/qualification.md.
"""

from __future__ import annotations

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from funnelflow_airflow.assets import LEADS_ENGAGED, LEADS_INGESTED, LEADS_SALES_QUALIFIED
from funnelflow_airflow.common import START_DATE, Tag, default_args, run_as_of


def _run_facts(data_interval_end):
    """The run's as-of time (its data interval end, or when an asset-triggered run was due) and its type."""
    from airflow.sdk import get_current_context

    dag_run = get_current_context()["dag_run"]
    return run_as_of(data_interval_end), str(getattr(dag_run, "run_type", "") or ""), dag_run.run_id


@dag(
    dag_id="lead_qualification",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 3 * * *", timezone="UTC"),
        assets=(LEADS_INGESTED | LEADS_ENGAGED),
    ),
    start_date=START_DATE,
    catchup=False,
    default_args=default_args(),
    tags=[Tag.QUALIFY],
    doc_md=__doc__,
    max_active_runs=1,
)
def lead_qualification():
    @task
    def validate_and_normalize() -> str:
        """Flags, E.164 phones, clean names, seniority and department of the changed leads."""
        from funnelflow.db.schema import utcnow
        from funnelflow.qualify.normalize import normalize_leads
        from funnelflow_airflow.db import marketing_engine

        started = utcnow()  # leads changed after this stay queued for the next run
        normalize_leads(marketing_engine())
        return started.isoformat()

    @task
    def enrich(data_interval_end=None) -> dict:
        """Accounts and firmographics for the changed leads' business domains."""
        from dataclasses import asdict

        from funnelflow import settings
        from funnelflow.qualify.enrich import enrich_leads, provider_from_settings
        from funnelflow_airflow.connections import enrichment_api
        from funnelflow_airflow.db import marketing_engine

        as_of, _, _ = _run_facts(data_interval_end)
        uses_api = settings.env("FUNNELFLOW_ENRICHMENT_PROVIDER", "reference") == "http"
        provider = provider_from_settings(enrichment_api() if uses_api else None)
        return asdict(enrich_leads(marketing_engine(), provider, as_of=as_of))

    @task
    def dedupe() -> dict:
        """Merge sure duplicates, list likely ones for review."""
        from dataclasses import asdict

        from funnelflow.qualify.dedupe import find_and_merge
        from funnelflow_airflow.db import marketing_engine

        return asdict(find_and_merge(marketing_engine()))

    @task
    def score_and_stage(started: str, data_interval_end=None) -> dict:
        """Fit, engagement with decay, breakdown and stage; the daily run re-scores every lead."""
        import logging
        from datetime import datetime

        from funnelflow.qualify.rules import load_active_rules
        from funnelflow.qualify.score import score_and_stage as run_scoring
        from funnelflow_airflow.db import marketing_engine

        as_of, run_type, run_id = _run_facts(data_interval_end)
        engine = marketing_engine()
        active = load_active_rules(engine)
        if active.problem:
            from funnelflow.alerts import rules_rejected_alert
            from funnelflow_airflow.common import send_ops_alert

            logging.getLogger(__name__).error(
                "rules files rejected, last good rules %s used:\n%s", active.rules.version, active.problem
            )
            send_ops_alert(rules_rejected_alert(active.problem, active.rules.version), as_of, engine)
        scope = "all" if run_type.lower().endswith("scheduled") else "changed"
        result = run_scoring(
            engine,
            active.rules,
            as_of=as_of,
            scope=scope,
            run_id=run_id,
            seen_before=datetime.fromisoformat(started),
        )
        return {**result.summary(), "rules_problem": bool(active.problem)}

    @task(outlets=[LEADS_SALES_QUALIFIED])
    def announce_sales_qualified(result: dict) -> int:
        """Update funnelflow://leads/sales-qualified when leads became SQL; otherwise skip (no event)."""
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowSkipException

        if not result["became_sql"]:
            raise AirflowSkipException("no lead became SQL in this run")
        get_current_context()["outlet_events"][LEADS_SALES_QUALIFIED].extra = {
            "became_sql": result["became_sql"],
            "as_of": result["as_of"],
            "rules_version": result["rules_version"],
        }
        return result["became_sql"]

    @task
    def refresh_metrics_origins() -> dict:
        """The maintained origins and first stage entries, for the leads changed since the last refresh."""
        from dataclasses import asdict

        from funnelflow.metrics.origins import refresh
        from funnelflow_airflow.db import marketing_engine

        with marketing_engine().connect() as conn:
            return asdict(refresh(conn))

    started = validate_and_normalize()
    enriched = enrich()
    deduped = dedupe()
    scored = score_and_stage(started)
    started >> enriched >> deduped >> scored
    announce_sales_qualified(scored)
    scored >> refresh_metrics_origins()


dag_obj = lead_qualification()

if __name__ == "__main__":
    dag_obj.test()
