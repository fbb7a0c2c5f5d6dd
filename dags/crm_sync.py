"""
# crm_sync

Every 30 minutes:

1. `push_handoffs`: each assigned handoff not yet in the CRM goes to the CRM's
   API through the HTTP connection `crm_default` (host = base URL, password = API
   key), one idempotency key per item; 5xx/timeouts retried with backoff, a 4xx
   recorded on the item (`sales queue` shows it). Without the connection, a CSV
   export per run goes to `FUNNELFLOW_HOME/outbox/crm/` (formula-safe cells).
2. `pull_opportunities`: opportunity updates, page by page from the stored
   cursor; open -> lead stage `opportunity`, won -> `customer`, lost ->
   `recycled`. Bad rows are set aside in `ingest_rejects` with the reason.
3. `pull_opportunity_files`: the same from CSV files a CRM without an API drops
   into the lead inbox's `crm/` folder (moved to `crm/done/` once applied).

## Owner
sales-ops (CRM); marketing-ops runs the pipeline. Failures alert FUNNELFLOW_OPS_EMAIL.

## If it fails
- **Look at:** the failed task's log. `CrmError: the CRM refused our key`: fix the password of
  the `crm_default` connection. `CrmError: the CRM kept failing`: the CRM is down; nothing was
  lost (items not pushed stay unpushed, the cursor did not move). `python -m funnelflow sales
  queue` shows each item's CRM status and the CRM's 4xx answers.
- **Safe to rerun:** yes: each item carries an idempotency key, so the CRM keeps one record per
  item; opportunity updates are applied by external id.
- **Tell:** sales ops (CRM admin) on call.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from funnelflow_airflow.common import START_DATE, Tag, default_args, run_as_of


@dag(
    dag_id="crm_sync",
    schedule="*/30 * * * *",
    start_date=START_DATE,
    catchup=False,
    default_args=default_args(),
    tags=[Tag.SALES],
    doc_md=__doc__,
    max_active_runs=1,
)
def crm_sync():
    @task
    def push_handoffs(data_interval_end=None) -> dict:
        """New handoffs to the CRM's API, or a CSV export without the connection."""
        from funnelflow.sales.crm import export_csv
        from funnelflow.sales.crm import push_handoffs as push
        from funnelflow_airflow.db import marketing_engine
        from funnelflow_airflow.sales import crm_client

        engine, as_of = marketing_engine(), run_as_of(data_interval_end)
        client = crm_client()
        if client is None:
            return export_csv(engine, as_of=as_of).as_dict()
        try:
            return push(engine, client, as_of=as_of).as_dict()
        finally:
            client.close()

    @task(trigger_rule="none_failed")
    def pull_opportunities(data_interval_end=None) -> dict:
        """Opportunity updates from the CRM's API (skipped without the connection)."""
        from airflow.sdk.exceptions import AirflowSkipException

        from funnelflow.sales.crm import pull_opportunities as pull
        from funnelflow_airflow.db import marketing_engine
        from funnelflow_airflow.sales import crm_client

        client = crm_client()
        if client is None:
            raise AirflowSkipException("no crm_default connection: nothing to pull")
        try:
            return pull(marketing_engine(), client, as_of=run_as_of(data_interval_end)).as_dict()
        finally:
            client.close()

    @task
    def pull_opportunity_files(data_interval_end=None) -> dict:
        """Opportunity CSVs the CRM dropped into the lead inbox's crm/ folder."""
        from funnelflow.sales.crm import pull_opportunity_files as pull
        from funnelflow_airflow.connections import lead_inbox
        from funnelflow_airflow.db import marketing_engine

        inbox = lead_inbox()
        return pull(marketing_engine(), inbox.fs, inbox.path, as_of=run_as_of(data_interval_end)).as_dict()

    push_handoffs() >> pull_opportunities() >> pull_opportunity_files()


dag_obj = crm_sync()

if __name__ == "__main__":
    dag_obj.test()
