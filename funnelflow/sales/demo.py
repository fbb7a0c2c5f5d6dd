"""``sales demo``: after the demo's DAG runs, show the sales side: an accept, a reject that recycles,
a CRM-won opportunity that makes a customer, and a CTI lookup. Prints ids and stages, never names."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import sqlalchemy as sa

from funnelflow.db.schema import leads, sales_queue
from funnelflow.sales import crm, cti, feedback
from funnelflow.sales.team import SalesTeam


def _stage(conn: sa.Connection, lead_id: int) -> str:
    return conn.execute(sa.select(leads.c.lifecycle_stage).where(leads.c.id == lead_id)).scalar_one()


def run_demo(engine: sa.Engine, team: SalesTeam, as_of: datetime) -> list[str]:
    out: list[str] = []
    with engine.connect() as conn:
        items = (
            conn.execute(
                sa.select(
                    sales_queue.c.id,
                    sales_queue.c.lead_id,
                    sales_queue.c.rep_id,
                    sales_queue.c.status,
                    sales_queue.c.routing_reason,
                )
                .where(sales_queue.c.kind == "handoff")
                .order_by(sales_queue.c.id)
            )
            .mappings()
            .all()
        )
    by_rep = Counter(i["rep_id"] or "(unassigned)" for i in items)
    by_step = Counter((i["routing_reason"] or "").split(" (")[0] for i in items)
    out.append(
        f"handoffs: {len(items)} items; per rep {dict(sorted(by_rep.items()))}; "
        f"by step {dict(sorted(by_step.items()))}"
    )
    open_items = [i for i in items if i["status"] == "open"]
    if len(open_items) < 4:
        out.append("fewer than four open handoffs: nothing more to show")
        return out
    first, second, third, fourth = open_items[:4]
    at = as_of + timedelta(hours=1)
    feedback.accept(engine, first["id"], at=at, actor=f"rep:{first['rep_id']}")
    feedback.reject(
        engine,
        second["id"],
        "no_budget",
        at=at,
        actor=f"rep:{second['rep_id']}",
        cooldown_days=team.recycle_cooldown_days,
    )
    won_csv = (
        "id,lead_id,owner,stage,kind,amount,currency,created_at,closed_at,updated_at,renewal_date\n"
        f"demo-opp-1,{third['lead_id']},{third['rep_id']},won,new,24000,EUR,{at.isoformat()},"
        f"{(at + timedelta(days=1)).isoformat()},{(at + timedelta(days=1)).isoformat()},"
        f"{(at + timedelta(days=366)).date().isoformat()}\n"
    )
    crm.pull_opportunities_csv(engine, won_csv, as_of=at + timedelta(days=1))
    with engine.connect() as conn:
        out.append(
            f"accept: item {first['id']} -> accepted "
            f"(lead {first['lead_id']} stays {_stage(conn, first['lead_id'])})"
        )
        out.append(
            f"reject: item {second['id']} (no_budget) -> "
            f"lead {second['lead_id']} is {_stage(conn, second['lead_id'])}"
        )
        out.append(
            f"CRM won: opportunity demo-opp-1 -> lead {third['lead_id']} is {_stage(conn, third['lead_id'])}"
        )
        email = conn.execute(sa.select(leads.c.email).where(leads.c.id == fourth["lead_id"])).scalar_one()
    screen = cti.lookup(engine, team, as_of=at, email=email)
    out.append(
        f"CTI lookup: lead {screen['lead_id']}, stage {screen['stage']}, grade {screen['fit_grade']}, "
        f"open item {screen['open_item']['id'] if screen['open_item'] else '-'}, "
        f"route to {screen['route_to']}"
    )
    return out
