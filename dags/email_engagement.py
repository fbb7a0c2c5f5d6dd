"""
# email_engagement

Every 10 minutes: SendGrid's events, stored by the public app's webhook
(`POST /funnelflow/sendgrid/events`), become facts in the marketing database.

- Opens and clicks become `email_open` / `email_click` touchpoints (the click's
  URL in `detail.url`). Machine opens (`sg_machine_open`, Apple Mail Privacy
  Protection) and clicks faster than a person could (link scanners) are kept
  with `scored = false`.
- Bounces, drops of invalid addresses, spam reports, unsubscribes and group
  unsubscribes become `suppressions` (by email hash); unsubscribes and spam
  reports also withdraw the lead's consent.
- `processed` / `delivered` / `bounce` / `dropped` events settle the send ledger
  (`email_sends`); rows still `claimed` `FUNNELFLOW_EMAIL_UNSETTLED_AFTER_H`
  hours after the run's data interval end with no event become `unsettled`.
- Emits `funnelflow://leads/engaged` when new touchpoints were written.

Idempotent: each chunk of events is processed and marked in one transaction,
touchpoints are keyed by the event id, suppressions by (hash, reason).

## If it fails
- **Look at:** the failed task's log (counts per event type, never addresses). A schema error
  names the command to run (`python -m funnelflow db upgrade`). `python -m funnelflow status`
  shows the events still waiting to be processed; if that number only grows, the task cannot
  keep up or keeps failing on one chunk (its log says which event type).
- **Safe to rerun:** yes, clear the failed task or the whole run. Each chunk of events is
  processed and marked in one transaction, touchpoints are keyed by the event id and
  suppressions by (hash, reason), so a rerun adds nothing twice. Events keep arriving through
  the webhook meanwhile and wait in `email_events` for the next run: nothing is lost.
- **Tell:** marketing-ops (email) on call. If it was down for more than a day, also the privacy
  owner: unsubscribes and spam reports waited that long to be honoured.

## Owner
marketing-ops (email). Failures alert FUNNELFLOW_OPS_EMAIL. See docs/email_events_privacy.md.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from funnelflow_airflow.assets import LEADS_ENGAGED
from funnelflow_airflow.common import START_DATE, Tag, default_args, run_as_of


@dag(
    dag_id="email_engagement",
    schedule="*/10 * * * *",
    start_date=START_DATE,
    catchup=False,
    default_args=default_args(),
    tags=[Tag.EMAIL],
    doc_md=__doc__,
    max_active_runs=1,
)
def email_engagement():
    @task
    def process_events(data_interval_end=None) -> dict:
        """Stored webhook events -> touchpoints, suppressions, withdrawals, ledger states."""
        import logging

        from funnelflow.email.events import process_events as process
        from funnelflow_airflow.db import marketing_engine

        summary = process(marketing_engine(), run_as_of(data_interval_end)).as_dict()
        logging.getLogger(__name__).info("engagement: %s", summary)
        return summary

    @task
    def mark_unsettled(data_interval_end=None) -> int:
        """Ledger rows claimed long ago that no event ever settled."""
        import logging

        from funnelflow.email.events import mark_unsettled as mark
        from funnelflow_airflow.db import marketing_engine

        count = mark(marketing_engine(), run_as_of(data_interval_end))
        logging.getLogger(__name__).info("marked %d sends unsettled", count)
        return count

    @task(outlets=[LEADS_ENGAGED])
    def announce_engagement(summary: dict) -> int:
        """Tell scoring that leads engaged; skipped (no asset event) when nothing new arrived."""
        from airflow.sdk.exceptions import AirflowSkipException

        if not summary.get("touchpoints"):
            raise AirflowSkipException("no new engagement touchpoints")
        return summary["touchpoints"]

    summary = process_events()
    summary >> mark_unsettled()
    announce_engagement(summary)


dag_obj = email_engagement()

if __name__ == "__main__":
    dag_obj.test()
