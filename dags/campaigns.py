"""
# campaign_<slug>: one DAG per campaign file

The factory for `config/campaigns/<slug>.yaml` (see README, "Adding a campaign"):
every file becomes the DAG `campaign_<slug>`. Parsing reads the files' validated
outlines (no database; `funnelflow.campaigns.outline` validates them again only
when a file changed). A file with a mistake becomes a DAG of the same name whose
only task fails with the file, the line and the fix; the other DAGs load.

Tasks: resolve the audience (stored) → wait for the send window (deferrable) →
send (or the A/B test cells) → wait `wait_hours` (deferrable: no worker slot is
held) → pick the winner → send the remainder the winning subject.
"""

from __future__ import annotations

from datetime import datetime

from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import DAG, Param, task

from funnelflow.campaigns.outline import Outline, outlines
from funnelflow_airflow.common import START_DATE, Tag, default_args, run_as_of

TAGS = [Tag.EMAIL, Tag.SENDS_EMAIL]

RUNBOOK = """
## If it fails
- **Look at:** the failed task's log. `resolve_audience`: the database or the segment (it stores
  the audience once per run). A send task: "paused by the circuit breaker" means bounce or spam
  rates are too high (docs/email.md); "unsettled" means an earlier try left messages it may
  have sent (operations were alerted; they are never re-sent). An invalid file:
  `python -m funnelflow campaigns check` names the file, the line and the fix.
  `python -m funnelflow campaigns results {slug}` shows what went out.
- **Safe to rerun:** yes: one message key per run (`campaign:{slug}:<run time>`), so nobody gets
  the campaign twice; clearing a task continues where it stopped. To stop a send now:
  `python -m funnelflow campaigns stop {slug}` (it ends between chunks; clear the stopped send
  task to continue later).
- **Tell:** the campaign's owner (see Owner) and marketing-ops on call.
"""


def _doc(campaign: Outline) -> str:
    c, ab, offer = campaign, campaign.ab_test, campaign.offer
    when = f"cron `{c.cron}`" if c.cron else f"once at {c.once}"
    test = (
        f"A/B subject test: {ab['share']:.0%} of the sendable audience, winner on {ab['metric']} "
        f"after {ab['wait_hours']} h (at least {ab['min_per_variant']} deliveries per variant)"
        if ab
        else "one subject"
    )
    offered = f"offer: limit {offer['limit']}, until {offer['expires_at']}" if offer else "no offer"
    return (
        f"# {c.name}\n\n{c.description}\n\n"
        f"- File: `config/campaigns/{c.slug}.yaml` ({c.markdown})\n"
        f"- Schedule: {when} ({c.timezone})\n- {test}\n- {offered}\n\n"
        f"## Owner\n{c.owner}. Failures alert FUNNELFLOW_OPS_EMAIL.\n" + RUNBOOK.format(slug=c.slug)
    )


def _schedule(campaign: Outline):
    from airflow.sdk import CronTriggerTimetable

    if campaign.cron:
        return CronTriggerTimetable(campaign.cron, timezone=campaign.timezone), START_DATE
    return "@once", campaign.once_at


PARAMS = {
    "dry_run": Param(False, type="boolean", description="Resolve and store the audience, send nothing."),
    "wait_hours": Param(
        None,
        type=["null", "number"],
        minimum=0,
        description="Ad-hoc runs: wait this long for the A/B results instead of the file's wait_hours.",
    ),
}


def make_campaign_dag(campaign: Outline) -> DAG:
    schedule, start = _schedule(campaign)
    slug = campaign.slug
    with DAG(
        dag_id=f"campaign_{slug}",
        schedule=schedule,
        start_date=start,
        catchup=False,
        default_args=default_args(),
        tags=TAGS,
        doc_md=_doc(campaign),
        max_active_runs=1,
        params=PARAMS,
    ) as dag:

        @task
        def resolve_audience(params=None, data_interval_end=None, dag_run=None) -> dict:
            """The segment as of the run, stored with its A/B cells (a retry sends to the same people)."""
            from airflow.sdk.exceptions import AirflowSkipException

            from funnelflow.campaigns.config import find_campaign, send_plan
            from funnelflow.campaigns.run import late_edition
            from funnelflow.campaigns.run import resolve_audience as resolve
            from funnelflow_airflow.db import marketing_engine

            c, as_of, engine = find_campaign(slug), run_as_of(data_interval_end), marketing_engine()
            scheduled = dag_run.run_type == "scheduled"  # a manual trigger sends whenever it is made
            if why := late_edition(engine, slug, as_of, dag_run.start_date, scheduled=scheduled):
                raise AirflowSkipException(why)
            info = resolve(engine, c, as_of)
            return {
                "run_key": info.run_key,
                "audience": info.audience,
                "sendable": info.sendable,
                "dry_run": bool((params or {}).get("dry_run")),
                **send_plan(c, as_of, (params or {}).get("wait_hours")),
            }

        wait_for_window = DateTimeSensorAsync(
            task_id="wait_for_send_window",
            target_time="{{ ti.xcom_pull(task_ids='resolve_audience')['send_at'] }}",
        )
        phases = ("test", "rest") if campaign.ab_test else ("all",)
        sends = [_send_task(slug, phase) for phase in phases]
        resolved = resolve_audience()
        resolved >> wait_for_window >> sends[0]
        if campaign.ab_test:
            wait_for_results = DateTimeSensorAsync(
                task_id="wait_for_results",
                target_time="{{ ti.xcom_pull(task_ids='resolve_audience')['decide_at'] }}",
            )
            sends[0] >> wait_for_results >> _pick_winner(slug) >> sends[1]
    return dag


def _send_task(slug: str, phase: str):
    names = {"all": "send", "test": "send_test_cells", "rest": "send_remainder"}

    @task(task_id=names[phase])
    def send(ti=None, data_interval_end=None) -> dict:
        """Send this phase through the sending layer; stopped runs end here and the rest skip."""
        from airflow.sdk.exceptions import AirflowSkipException

        from funnelflow.alerts import breaker_alert
        from funnelflow.campaigns.config import find_campaign
        from funnelflow.campaigns.run import get_run, send_phase
        from funnelflow_airflow.common import send_ops_alert
        from funnelflow_airflow.db import marketing_engine
        from funnelflow_airflow.sending import email_transport, send_options, unsettled_sends_fail_the_task

        plan = ti.xcom_pull(task_ids="resolve_audience")
        if plan.get("dry_run"):
            raise AirflowSkipException(
                f"dry run: {plan['audience']} in the segment, {plan['sendable']} sendable"
            )
        engine, transport, as_of = marketing_engine(), email_transport(), run_as_of(data_interval_end)
        run = get_run(engine, slug, as_of)
        if phase == "rest" and run is not None and run.status == "stopped":
            raise AirflowSkipException("the campaign was stopped; clear the stopped send task to continue")

        def on_breaker(state) -> None:
            send_ops_alert(breaker_alert(state, as_of), as_of, engine)

        with unsettled_sends_fail_the_task():
            report = send_phase(
                engine, find_campaign(slug), as_of, phase, transport, send_options(), on_breaker=on_breaker
            )
        if report.get("paused"):
            raise RuntimeError("marketing sends are paused by the circuit breaker; the retry tries again")
        return report

    return send()


def _pick_winner(slug: str):
    @task
    def pick_winner(data_interval_end=None) -> dict:
        """The higher rate of unique human opens or clicks per delivered message; `a` on small samples or
        ties."""
        from airflow.sdk.exceptions import AirflowSkipException

        from funnelflow.campaigns.config import find_campaign
        from funnelflow.campaigns.run import decide_winner, get_run
        from funnelflow_airflow.db import marketing_engine

        engine, as_of = marketing_engine(), run_as_of(data_interval_end)
        run = get_run(engine, slug, as_of)
        if run is not None and run.status == "stopped":
            raise AirflowSkipException("the campaign was stopped; clear the stopped send task to continue")
        return decide_winner(engine, find_campaign(slug), as_of)

    return pick_winner()


def make_invalid_campaign_dag(slug: str, error: str) -> DAG:
    """A campaign file with a mistake: a DAG of the same name whose only task fails saying file, line and
    fix."""
    with DAG(
        dag_id=f"campaign_{slug}",
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        default_args=default_args(retries=1),
        tags=TAGS,
        doc_md=f"# campaign file with a mistake\n\n```\n{error}\n```\n\n## Owner\nmarketing-ops\n"
        + RUNBOOK.format(slug=slug),
    ) as dag:

        @task
        def campaign_file_invalid() -> None:
            from funnelflow.campaigns.config import CampaignError

            raise CampaignError(error)

        campaign_file_invalid()
    return dag


def _build() -> dict[str, DAG]:
    good, bad = outlines()
    dags = {f"campaign_{c.slug}": make_campaign_dag(c) for c in good}
    dags.update({f"campaign_{slug}": make_invalid_campaign_dag(slug, error) for slug, error in bad.items()})
    return dags


# Module-level names are what the DAG processor collects.
globals().update(_build())

if __name__ == "__main__":
    import sys

    globals()[f"campaign_{sys.argv[1]}"].test(logical_date=datetime.fromisoformat(sys.argv[2]))
