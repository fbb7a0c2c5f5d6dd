"""
# sendgrid_suppression_sync

Daily: reads SendGrid's bounce, block, spam-report, invalid-email and global
unsubscribe lists through its v3 API and adds the suppressions the webhook
missed (SendGrid stops retrying a webhook post after 24 hours). The window is
the run's data interval (at least the day before the run), widened by another
day of overlap; inserts are keyed by (email hash,
reason), so reruns add nothing. Addresses are hashed as they are read and
never stored or logged.

Needs the `sendgrid_default` connection (API key in the password; a host that
is a full URL replaces SendGrid's API base). Without it the run skips, with one
log line: the local demo has no SendGrid.

## If it fails
- **Look at:** the task's log: SendGrid's HTTP status. 401/403: the key in `sendgrid_default`
  expired or lacks the suppressions read scope; 429 or 5xx: SendGrid was busy, the retries
  ran out.
- **Safe to rerun:** yes, clear the failed run: each run reads its own window (plus a day of
  overlap) and inserts are keyed by (email hash, reason). If several days failed, clear each
  failed run so their windows are read.
- **Tell:** marketing-ops (email) on call; the privacy owner when it failed for more than a
  day (suppressions the webhook missed waited that long).

## Owner
marketing-ops (email). Failures alert FUNNELFLOW_OPS_EMAIL. See docs/email_events_privacy.md.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from funnelflow_airflow.common import START_DATE, Tag, default_args, run_as_of


@dag(
    dag_id="sendgrid_suppression_sync",
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    default_args=default_args(),
    tags=[Tag.EMAIL, Tag.PRIVACY],
    doc_md=__doc__,
    max_active_runs=1,
)
def sendgrid_suppression_sync():
    @task
    def pull_suppressions(data_interval_start=None, data_interval_end=None) -> dict:
        """SendGrid's suppression lists for the window -> the suppressions we lacked."""
        from datetime import timedelta

        from airflow.sdk.exceptions import AirflowSkipException

        from funnelflow.email.suppression_sync import sync_suppressions
        from funnelflow_airflow.connections import SENDGRID_CONN_ID, sendgrid_settings
        from funnelflow_airflow.db import marketing_engine

        sendgrid = sendgrid_settings()
        if sendgrid is None:
            raise AirflowSkipException(
                f"connection {SENDGRID_CONN_ID!r} is not configured: no SendGrid lists to sync"
            )
        end = run_as_of(data_interval_end)
        # Airflow 3's @daily gives a zero-length interval: the window is at least the day before the run.
        start = min(data_interval_start or end, end - timedelta(days=1))
        return sync_suppressions(
            marketing_engine(), sendgrid.api_key, sendgrid.base_url, start, end
        ).as_dict()

    pull_suppressions()


dag_obj = sendgrid_suppression_sync()

if __name__ == "__main__":
    dag_obj.test()
