"""
# forget_person

Manual: forgets one person everywhere (right to erasure) while every aggregate
count stays right. Trigger it with the `person` param: a **lead id** or the
**SHA-256 of the normalized email** (`python -m funnelflow privacy hash` prints
it). Never the address itself: it would stay in Airflow's run records; the
param refuses anything with an `@`.

What happens (details in docs/email_events_privacy.md):
1. an `erased` suppression per email hash, committed first: no email from now on,
   and a later import never brings the person back into email;
2. archived and failed lead files (inbox `archive/`, `failed/`): their rows blanked,
   receipts redacted; outbox `.eml` files to the person deleted;
3. leads, touchpoints, consents, sends, events, rejects, landing rows and merge
   records anonymized in one transaction (rows kept, so counts stay);
4. one row in `erasures` records what was asked and what changed (no address).

Idempotent: rerunning changes nothing more.

## If it fails
- **Look at:** the task's log (what was changed, as counts; never the person) and the
  `erasures` table. A run refused before it starts had a `person` that was not a lead id or a
  64-character hash (never an address). An inbox or outbox error names the file and folder.
- **Safe to rerun:** yes, trigger it again with the same `person`. The `erased` suppression is
  committed first, so even a failed run already stops every email to the person; a rerun
  finishes the rest and changes nothing already done.
- **Tell:** the privacy owner who asked for the erasure (an erasure request has a legal
  deadline), and marketing-ops (privacy) if it fails twice.

## Owner
marketing-ops (privacy). Failures alert FUNNELFLOW_OPS_EMAIL. See docs/email_events_privacy.md.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from funnelflow_airflow.common import START_DATE, Tag, default_args, run_as_of


@dag(
    dag_id="forget_person",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    default_args=default_args(),
    tags=[Tag.PRIVACY],
    doc_md=__doc__,
    max_active_runs=1,
    params={
        "person": Param(
            "",
            type="string",
            pattern=r"^([0-9]+|[0-9a-f]{64})$",
            title="Lead id or email hash",
            description=(
                "A lead id, or the SHA-256 of the normalized email (python -m funnelflow privacy hash). "
                "Never the address."
            ),
        )
    },
)
def forget_person():
    @task
    def forget(params=None, run_id=None, data_interval_end=None) -> dict:
        """Erase or anonymize the person in the database, the inbox files and the outbox."""

        from funnelflow import settings
        from funnelflow.privacy.forget import forget_person as forget_everywhere
        from funnelflow.privacy.forget import parse_subject
        from funnelflow_airflow.connections import lead_inbox
        from funnelflow_airflow.db import marketing_engine

        subject = parse_subject((params or {}).get("person"))
        inbox = lead_inbox()
        at = run_as_of(data_interval_end)
        result = forget_everywhere(
            marketing_engine(),
            subject,
            at,
            inbox=(inbox.fs, inbox.path),
            outbox=settings.funnelflow_home() / "outbox",
            run_id=run_id,
        )
        return result.as_dict()

    forget()


dag_obj = forget_person()

if __name__ == "__main__":
    dag_obj.test()
