"""The funnel now, in one place: what the Airflow UI's Funnel page and ``status`` show.

Plain queries over the marketing database, no Airflow: the page in
``funnelflow_airflow/funnel_page.py`` renders what ``funnel_overview`` returns.
Each later area (campaigns, webinars, the sales queue, the weekly report) adds its
own section here, read through the module that owns its table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from funnelflow.db.schema import LIFECYCLE_STAGES, SEND_STATUSES, email_sends, leads


def funnel_overview(engine: sa.Engine, as_of: datetime) -> dict[str, Any]:
    with engine.connect() as conn:
        stages = dict(
            conn.execute(
                sa.select(leads.c.lifecycle_stage, sa.func.count())
                .where(leads.c.merged_into_id.is_(None), leads.c.erased_at.is_(None))
                .group_by(leads.c.lifecycle_stage)
            ).all()
        )
        sends = dict(
            conn.execute(
                sa.select(email_sends.c.status, sa.func.count()).group_by(email_sends.c.status)
            ).all()
        )
    return {
        "as_of": as_of,
        "leads_by_stage": [(stage, stages.get(stage, 0)) for stage in LIFECYCLE_STAGES],
        "sends_by_status": [(status, sends.get(status, 0)) for status in SEND_STATUSES],
    }
