"""
# sales_handoff

Runs when `funnelflow://leads/sales-qualified` is updated, and every 15 minutes
(the SLA clock runs between SQLs too).

1. `route_new_sqls`: every lead that became SQL gets one `sales_queue` item (reruns
   add nothing) and a rep by `config/sales_team.yaml`'s routing steps, with a
   due time in the rep's business hours; nobody eligible: `unassigned` with the reason.
2. `sla_sweep`: reminder at half time, escalation to the team's manager at the
   breach, reassignment after `reassign_after_business_hours` more.
3. `retention_items`: check-ins after a win, renewals, upsell signals (a pricing or
   demo page visit, or engagement up `retention.upsell_engagement_rise` in 7 days).
4. `send_rep_emails`: the rep alert (lead facts, reasons, the lead's words,
   signed Accept/Reject links), reminders and escalations, each once per
   message key through the sending layer.
5. `alert_unassigned`: one operations alert per run when items wait for a rep.

Everything is computed as of the run's data interval end (asset runs: when the
run was due). Routing and reassignment hold one lock, so overlapping runs never
exceed a rep's capacity. Logs carry counts and ids, never names or addresses.

## Owner
sales-ops (routing rules, the team file); marketing-ops runs the pipeline.
Failures alert FUNNELFLOW_OPS_EMAIL. See README "Sales handoff".

## If it fails
- **Look at:** the failed task's log. `SalesTeamError`: the team file is wrong; the message names
  the line and the fix (`python -m funnelflow sales check`). `SchemaBehind`: run
  `python -m funnelflow db upgrade`. Email errors (`SendingAborted`, `UnsettledSends`): routing
  is already committed; the ledger says what went out. `python -m funnelflow sales queue` shows
  the queue, `sales explain LEAD_ID` why a rep was chosen.
- **Safe to rerun:** yes: each lead is queued once per time it became SQL, reminders and
  escalations are recorded once per item, and every email has its message key; clear
  `send_rep_emails` once the transport works.
- **Tell:** sales ops on call; the team's manager if items wait unassigned.
"""

from __future__ import annotations

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from funnelflow_airflow.assets import LEADS_SALES_QUALIFIED
from funnelflow_airflow.common import START_DATE, Tag, default_args, run_as_of


def _run_id() -> str:
    from airflow.sdk import get_current_context

    return get_current_context()["dag_run"].run_id


@dag(
    dag_id="sales_handoff",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("*/15 * * * *", timezone="UTC"), assets=LEADS_SALES_QUALIFIED
    ),
    start_date=START_DATE,
    catchup=False,
    default_args=default_args(),
    tags=[Tag.SALES, Tag.SENDS_EMAIL],
    doc_md=__doc__,
    max_active_runs=1,
)
def sales_handoff():
    @task
    def route_new_sqls(data_interval_end=None) -> dict:
        """Queue each new SQL once and assign a rep (or leave it unassigned with the reason)."""
        from funnelflow.sales.routing import route
        from funnelflow_airflow.db import marketing_engine
        from funnelflow_airflow.sales import sales_team

        return route(
            marketing_engine(), sales_team(), as_of=run_as_of(data_interval_end), run_id=_run_id()
        ).summary()

    @task
    def sla_sweep(data_interval_end=None) -> dict:
        """Reminders at half time, escalations at the breach, reassignment after that."""
        from funnelflow.sales.sla import sweep
        from funnelflow_airflow.db import marketing_engine
        from funnelflow_airflow.sales import sales_team

        return sweep(
            marketing_engine(), sales_team(), as_of=run_as_of(data_interval_end), run_id=_run_id()
        ).summary()

    @task
    def retention_items(data_interval_end=None) -> dict:
        """Check-ins, renewals and upsell items, routed to the account owner first."""
        import logging

        from funnelflow.qualify.rules import RulesError, load_active_rules
        from funnelflow.sales.retention import create_retention_items
        from funnelflow_airflow.db import marketing_engine
        from funnelflow_airflow.sales import sales_team

        engine = marketing_engine()
        try:  # the engagement-rise upsell scores like qualification, with its rules
            rules = load_active_rules(engine).rules
        except RulesError as exc:  # lead_qualification fails on this loudly; the other items go on
            logging.getLogger(__name__).error("no engagement-rise upsell this run: %s", exc)
            rules = None
        return create_retention_items(
            engine, sales_team(), as_of=run_as_of(data_interval_end), run_id=_run_id(), rules=rules
        ).summary()

    @task(trigger_rule="all_done")
    def send_rep_emails(data_interval_end=None) -> dict:
        """Alerts, reminders and escalations not sent yet, each once."""
        from funnelflow.sales.notify import send_item_emails
        from funnelflow_airflow.db import marketing_engine
        from funnelflow_airflow.sending import email_transport, send_options, unsettled_sends_fail_the_task

        with unsettled_sends_fail_the_task():
            reports = send_item_emails(
                marketing_engine(),
                email_transport(),
                as_of=run_as_of(data_interval_end),
                options=send_options(),
            )
        return {kind: report.as_dict() for kind, report in reports.items()}

    @task
    def alert_unassigned(routed: dict, retained: dict) -> int:
        """One operations alert per run when items wait for a rep (counts only)."""
        from datetime import datetime

        from funnelflow.alerts import unassigned_items_alert
        from funnelflow_airflow.common import send_ops_alert

        waiting = routed["unassigned"] + retained["unassigned"]
        if waiting:
            as_of = datetime.fromisoformat(routed["as_of"])
            send_ops_alert(unassigned_items_alert(waiting, as_of), as_of)
        return waiting

    routed = route_new_sqls()
    swept = sla_sweep()
    retained = retention_items()
    emails = send_rep_emails()
    routed >> swept >> retained >> emails
    alert_unassigned(routed, retained)


dag_obj = sales_handoff()

if __name__ == "__main__":
    dag_obj.test()
