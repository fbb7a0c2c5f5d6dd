"""``status``: what is in the marketing database, in numbers a person can read."""

from __future__ import annotations

import argparse

import sqlalchemy as sa

from funnelflow import settings
from funnelflow.db.schema import LIFECYCLE_STAGES, email_sends, ingest_rejects, leads, touchpoints


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="counts of leads, rejects, stages and emails in the marketing database")
    p.set_defaults(func=_status)


def collect(engine: sa.Engine) -> dict[str, object]:
    with engine.connect() as conn:
        stage_counts = dict(
            conn.execute(
                sa.select(leads.c.lifecycle_stage, sa.func.count()).group_by(leads.c.lifecycle_stage)
            ).all()
        )
        sends = dict(
            conn.execute(
                sa.select(email_sends.c.status, sa.func.count()).group_by(email_sends.c.status)
            ).all()
        )
        return {
            "leads": conn.execute(sa.select(sa.func.count()).select_from(leads)).scalar_one(),
            "touchpoints": conn.execute(sa.select(sa.func.count()).select_from(touchpoints)).scalar_one(),
            "rejected": conn.execute(
                sa.select(sa.func.count())
                .select_from(ingest_rejects)
                .where(ingest_rejects.c.replayed_at.is_(None))
            ).scalar_one(),
            "by_stage": {stage: stage_counts.get(stage, 0) for stage in LIFECYCLE_STAGES},
            "emails": sends,
        }


def _status(args: argparse.Namespace) -> int:
    from funnelflow.db.engine import check_reachable, make_engine
    from funnelflow.db.migrate import require_current_schema
    from funnelflow.db.url import redact

    engine = make_engine()
    check_reachable(engine)
    require_current_schema(engine)
    s = collect(engine)
    print(f"marketing_db: {redact(engine.url)}")
    print(f"leads:        {s['leads']:>8,}")
    print(f"touchpoints:  {s['touchpoints']:>8,}")
    print(f"rejected:     {s['rejected']:>8,}  (ingest_rejects not yet replayed)")
    print("by stage:     " + ", ".join(f"{k} {v:,}" for k, v in s["by_stage"].items()))
    emails = s["emails"]
    print(
        "emails:       " + (", ".join(f"{k} {v:,}" for k, v in sorted(emails.items())) if emails else "none")
    )
    outbox = settings.funnelflow_home() / "outbox"
    if outbox.is_dir():
        print(f"outbox:       {sum(1 for _ in outbox.rglob('*.eml')):>8,}  .eml files in {outbox}")
    return 0
