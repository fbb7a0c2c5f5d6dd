"""
# webinars

Every 15 minutes, for every webinar file in `config/webinars/`:

1. `sync_webinar_files`: the `webinars` table follows the files (a new time or a
   cancellation bumps the calendar `SEQUENCE`; a raised capacity seats the waitlist).
2. `send_updates`: registered and waitlisted people get the new calendar file after a
   reschedule or a cancellation (once per change).
3. `send_invitations`: invitation waves whose time has come (marketing, to the file's
   segment, without people already registered).
4. `send_confirmations`: the confirmation with the calendar file to each registered
   person (also when promoted from the waitlist), and a notice to the waitlist.
5. `send_reminders`: 24 hours and 1 hour before the start, to registered people.
6. `fetch_attendance`: the platform's participants report (where the file names a
   `platform` connection), 30 minutes after the end, once: attended / no-show marked.
7. `send_followups`: once attendance is in and `recording_url` is set: attended ->
   the recording and a next step, no-show -> the recording, never seated -> an apology.

Every step is idempotent (message keys name the webinar and the step; registrations
are one per person) and computes from the run's time, never the wall clock. One
webinar's failure does not stop the others; the step fails at the end, naming it.

## If it fails
- **Look at:** the failed task's log: it names the webinar (slug) and the error type.
  `python -m funnelflow webinars check` shows file mistakes with file, line and fix;
  `python -m funnelflow webinars status SLUG` shows the numbers.
- **Safe to rerun:** yes, clear the failed task or the run. The send ledger keeps every
  email to once per person and step; attendance marking gives the same rows again.
- **Tell:** marketing-ops (events) on call; the webinar's host if reminders are late.

## Owner
marketing-ops (events). Failures alert FUNNELFLOW_OPS_EMAIL. See README "Adding a webinar".
"""

from __future__ import annotations

from airflow.sdk import dag, task

from funnelflow_airflow.common import START_DATE, Tag, default_args, run_as_of


@dag(
    dag_id="webinars",
    schedule="*/15 * * * *",
    start_date=START_DATE,
    catchup=False,
    default_args=default_args(),
    tags=[Tag.EMAIL, Tag.SENDS_EMAIL],
    doc_md=__doc__,
    max_active_runs=1,
)
def webinars():
    @task
    def sync_webinar_files(data_interval_end=None) -> dict:
        """The webinars table follows the files; broken files are named (and fail the last task)."""
        from funnelflow.webinars.steps import sync
        from funnelflow_airflow.db import marketing_engine

        return sync(marketing_engine(), run_as_of(data_interval_end))

    def sending_step(name: str):
        @task(task_id=name, trigger_rule="all_done")  # one step failing never holds back the next
        def step(data_interval_end=None) -> dict:
            from funnelflow.webinars import steps
            from funnelflow_airflow.db import marketing_engine
            from funnelflow_airflow.sending import email_transport

            return getattr(steps, name)(marketing_engine(), email_transport(), run_as_of(data_interval_end))

        return step()

    @task(trigger_rule="all_done")
    def fetch_attendance(data_interval_end=None) -> dict:
        """The platform's participants report, for webinars that ended (where the file names a platform)."""
        from funnelflow.webinars.steps import fetch_attendance as fetch
        from funnelflow_airflow.connections import webinar_platform_endpoint
        from funnelflow_airflow.db import marketing_engine

        return fetch(marketing_engine(), webinar_platform_endpoint, run_as_of(data_interval_end))

    @task(trigger_rule="all_done")
    def check_webinar_files(synced: dict) -> None:
        """Fails the run when a webinar file has a mistake (the good files were done anyway)."""
        from funnelflow.webinars.config import WebinarConfigError

        if synced and synced.get("problems"):
            raise WebinarConfigError("\n".join(synced["problems"]))

    synced = sync_webinar_files()
    updates = sending_step("send_updates")
    invitations = sending_step("send_invitations")
    confirmations = sending_step("send_confirmations")
    reminders = sending_step("send_reminders")
    attendance = fetch_attendance()
    followups = sending_step("send_followups")
    synced >> updates >> invitations >> confirmations >> reminders >> attendance >> followups
    followups >> check_webinar_files(synced)


dag_obj = webinars()

if __name__ == "__main__":
    dag_obj.test()
