"""
# sales_digest

Daily at 06:00 UTC: one email per rep with open items, listing them with their
due times (in the rep's zone) and marking those due within four hours. One
message key per rep and day, so a rerun sends nothing twice.

## Owner
sales-ops. Failures alert FUNNELFLOW_OPS_EMAIL.

## If it fails
- **Look at:** the failed task's log. Transport errors: the ledger shows which digests went out.
  `SchemaBehind`: run `python -m funnelflow db upgrade`.
- **Safe to rerun:** yes: one digest per rep and day (its message key); clearing the task sends
  the rest, none twice.
- **Tell:** sales ops on call, and the reps if their digest is late.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from funnelflow_airflow.common import START_DATE, Tag, default_args, run_as_of


@dag(
    dag_id="sales_digest",
    schedule="0 6 * * *",
    start_date=START_DATE,
    catchup=False,
    default_args=default_args(),
    tags=[Tag.SALES, Tag.SENDS_EMAIL],
    doc_md=__doc__,
    max_active_runs=1,
)
def sales_digest():
    @task
    def send_digests(data_interval_end=None) -> dict:
        """One digest per rep with open items."""
        from funnelflow.sales.notify import send_digests as send
        from funnelflow_airflow.db import marketing_engine
        from funnelflow_airflow.sending import email_transport, send_options, unsettled_sends_fail_the_task

        with unsettled_sends_fail_the_task():
            report = send(
                marketing_engine(),
                email_transport(),
                as_of=run_as_of(data_interval_end),
                options=send_options(),
            )
        return report.as_dict()

    send_digests()


dag_obj = sales_digest()

if __name__ == "__main__":
    dag_obj.test()
