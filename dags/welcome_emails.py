"""
# welcome_emails

Every 5 minutes: the double opt-in confirmation (transactional) to web-form
sign-ups whose consent is pending, then the welcome email (marketing) to people
whose consent was just granted.

- Confirmations go only when `FUNNELFLOW_DOUBLE_OPT_IN` is on (the default);
  one per pending consent, with a `/confirm/<token>` link that names the consent.
- Welcomes pass the marketing policy (consent granted, no suppression, frequency
  cap) and the circuit breaker; each person gets one, ever.
- Idempotent by message key: the send ledger (`email_sends`) is claimed before each
  request, so a retry or rerun never sends a message twice.
- A recipient whose message cannot be built or is refused is `failed` alone. A task
  that leaves claims neither sent nor failed (a crashed try, a timeout) fails without
  retrying (`UnsettledSends`) after sending everyone else, and operations are alerted.
- "Just" means recorded within `FUNNELFLOW_WELCOME_WINDOW_HOURS` before the run's
  data interval end.

## If it fails
- **Look at:** the failed task's log (counts sent and skipped by reason; SendGrid's HTTP
  status on a refusal) and `python -m funnelflow status` (sends by status: `claimed` rows
  a failed run left behind become `unsettled` after `FUNNELFLOW_EMAIL_UNSETTLED_AFTER_H`).
  A circuit-breaker pause is not a failure: operations get one alert a day until it lifts.
- **Safe to rerun:** yes, clear the failed task or the run: every message is claimed in the
  send ledger before its request, so a retry or rerun never sends anything twice. Messages
  SendGrid certainly did not accept are released and go out on the next run.
- **Tell:** marketing-ops (email) on call; marketing when welcomes are more than an hour
  late (people who just signed up are waiting).

## Owner
marketing-ops (email). Failures alert FUNNELFLOW_OPS_EMAIL. See docs/email.md.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from funnelflow_airflow.common import START_DATE, Tag, default_args, run_as_of


@dag(
    dag_id="welcome_emails",
    schedule="*/5 * * * *",
    start_date=START_DATE,
    catchup=False,
    default_args=default_args(),
    tags=[Tag.EMAIL, Tag.SENDS_EMAIL],
    doc_md=__doc__,
    max_active_runs=1,
)
def welcome_emails():
    @task
    def send_confirmations(data_interval_end=None) -> dict:
        """Double opt-in confirmations to pending web-form sign-ups."""
        from funnelflow import settings
        from funnelflow.email.welcome import send_confirmations as send
        from funnelflow_airflow.db import marketing_engine
        from funnelflow_airflow.sending import email_transport, send_options, unsettled_sends_fail_the_task

        if not settings.env_bool("FUNNELFLOW_DOUBLE_OPT_IN", True):
            return {"skipped": "double opt-in is off"}
        with unsettled_sends_fail_the_task():
            report = send(marketing_engine(), email_transport(), run_as_of(data_interval_end), send_options())
        return report.as_dict()

    # Welcomes go out even when confirmations failed: the two are independent.
    @task(trigger_rule="all_done")
    def send_welcomes(data_interval_end=None) -> dict:
        """The welcome email to people whose consent was just granted (paused by the circuit breaker)."""
        from funnelflow.alerts import breaker_alert
        from funnelflow.email.welcome import send_welcomes as send
        from funnelflow_airflow.common import send_ops_alert
        from funnelflow_airflow.db import marketing_engine
        from funnelflow_airflow.sending import email_transport, send_options, unsettled_sends_fail_the_task

        engine, transport, as_of = marketing_engine(), email_transport(), run_as_of(data_interval_end)

        def on_breaker(state) -> None:
            send_ops_alert(breaker_alert(state, as_of), as_of, engine)

        with unsettled_sends_fail_the_task():
            report = send(engine, transport, as_of, send_options(), on_breaker=on_breaker)
        return report.as_dict()

    send_confirmations() >> send_welcomes()


dag_obj = welcome_emails()

if __name__ == "__main__":
    dag_obj.test()
