"""Read-only views of the sales queue for people: the queue list and "why this rep" (``sales explain``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from funnelflow.db.schema import accounts, leads, sales_queue, sales_queue_history
from funnelflow.sales import queue
from funnelflow.sales.routing import LeadFacts, Router, rep_matches
from funnelflow.sales.team import SalesTeam


def queue_rows(engine: sa.Engine, *, rep_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    q = sales_queue
    stmt = sa.select(q).where(q.c.status.in_(("open", "accepted", "unassigned")))
    if rep_id:
        stmt = stmt.where(q.c.rep_id == rep_id)
    stmt = stmt.order_by(q.c.due_at.is_(None), q.c.due_at, q.c.id).limit(limit)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def explain(engine: sa.Engine, team: SalesTeam, lead_id: int, *, as_of: datetime) -> str:
    """The lead's items and their history, then each routing step as it would decide now."""
    with engine.connect() as conn:
        lead = (
            conn.execute(
                sa.select(
                    leads.c.id,
                    leads.c.lifecycle_stage,
                    leads.c.fit_grade,
                    leads.c.account_id,
                    sa.func.coalesce(leads.c.country, accounts.c.country).label("country"),
                    accounts.c.employee_band,
                    accounts.c.industry,
                    accounts.c.owner_rep_id,
                    leads.c.owner_rep_id.label("lead_owner"),
                )
                .select_from(leads.outerjoin(accounts, accounts.c.id == leads.c.account_id))
                .where(leads.c.id == lead_id)
            )
            .mappings()
            .first()
        )
        if lead is None:
            return f"lead {lead_id}: not found"
        items = (
            conn.execute(
                sa.select(sales_queue).where(sales_queue.c.lead_id == lead_id).order_by(sales_queue.c.id)
            )
            .mappings()
            .all()
        )
        history = (
            conn.execute(
                sa.select(sales_queue_history)
                .where(sales_queue_history.c.item_id.in_([i["id"] for i in items] or [-1]))
                .order_by(sales_queue_history.c.id)
            )
            .mappings()
            .all()
        )
        loads, last = queue.rep_stats(conn)
    facts = LeadFacts(
        lead_id=lead_id,
        account_id=lead["account_id"],
        country=lead["country"],
        segment=team.segment_of(lead["employee_band"]),
        industry=lead["industry"],
    )
    out = [
        f"lead {lead_id}: stage {lead['lifecycle_stage']}, grade {lead['fit_grade'] or '-'}, "
        f"country {facts.country or '-'}, segment {facts.segment or '-'} "
        f"(band {lead['employee_band'] or '-'}), "
        f"industry {facts.industry or '-'}, account owner {lead['owner_rep_id'] or '-'}"
        + ("" if lead["account_id"] else f" (no account; the lead's own owner {lead['lead_owner'] or '-'})")
    ]
    for item in items:
        out.append(
            f"item {item['id']} ({item['kind']}): {item['status']}, rep {item['rep_id'] or '-'}, "
            f"reason {item['routing_reason'] or '-'}, "
            f"due {item['due_at'].isoformat() if item['due_at'] else '-'}"
        )
        for h in history:
            if h["item_id"] == item["id"]:
                out.append(
                    f"  {h['at'].isoformat()} {h['actor']}: {h['action']} {h['from_status'] or '-'} -> "
                    f"{h['to_status'] or '-'} rep {h['rep_id'] or '-'} {h['detail'] or ''}"
                )
    router = Router(
        team, as_of, loads=loads, last_assigned=last, owners={lead["account_id"]: lead["owner_rep_id"]}
    )
    out.append(f"routing as of {as_of.isoformat()} (steps in order; the first with an eligible rep decides):")
    for step in team.routing:
        if step == "account_owner":
            owner = lead["owner_rep_id"]
            state = "eligible" if router.eligible(owner) else "not eligible" if owner else "no owner"
            out.append(f"  account_owner: {owner or '-'} ({state})")
            continue
        cands = []
        for rep in team.reps:
            if not rep_matches(rep, step, facts):
                continue
            why = router.why_unavailable[rep.id] or (
                "at_capacity" if router.load[rep.id] >= rep.capacity else "eligible"
            )
            cands.append(f"{rep.id}[{why}, {router.load[rep.id]}/{rep.capacity} open]")
        out.append(f"  {step}: {', '.join(cands) or 'no rep matches'}")
    decision = router.decide(facts)
    out.append(f"now: {decision.rep_id or 'nobody'} by {decision.reason}")
    return "\n".join(out)
