"""The demo's past weeks, through the real pipelines: scoring, routing, the SLA sweep, rep feedback, the CRM.

``make demo`` ingests arrivals spread over twelve weeks (``funnelflow.synth.demo``); this
module then replays the weeks before the demo's day, one run time a week (``until`` minus
1..weeks-1 weeks, oldest first), in one process, so the weekly report has a history:

1. the SLA sweep as of that time (reminders, breaches, reassignment: ``funnelflow.sales.sla``);
2. normalization (once, first), enrichment (the reference provider, as the demo's
   qualification run uses), then scoring and staging of the leads that had arrived by then
   (``funnelflow.qualify.score`` reads only the touches up to its as-of time), so MQL and SQL
   entries fall in their weeks;
3. routing of the new SQLs (``funnelflow.sales.routing``);
4. rep feedback on a seeded share of the new handoffs, a few business hours later
   (``funnelflow.sales.feedback``): accepted, rejected with a reason, or left to breach;
5. deals for a seeded share of the accepted ones, reported open when accepted and closed won or
   lost within the week, with upsells and renewals of earlier customers, pulled as the CRM's
   CSV export (``funnelflow.sales.crm``), which moves the leads to opportunity, then customer
   (or recycled), at those times.

6. with a transport: the week's newsletter through the sending layer and SendGrid's events for
   it, stored and processed as the webhook and ``email_engagement`` do (``funnelflow.synth.mail``),
   and one webinar, invited and registered in one week and held, with its attendee report and
   follow-ups, in the next (``funnelflow.synth.webinar``).

Everything is derived from the seed and ``until``; nothing reads the clock. What each step
stamps with the time it happened (``created_at``, ``sent_at``, ``received_at``) is pinned to the
replayed time (``funnelflow.clock.pinned``), so it falls in its week. Run once, on a fresh
database, after ingestion and before the demo's own qualification run; the email of a rerun is
what the first run stored (one ledger row per person and week, events by their ids).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import sqlalchemy as sa

from funnelflow import clock
from funnelflow.db.schema import REJECT_REASONS, leads, opportunities, sales_queue, touchpoints
from funnelflow.email.transports import Transport
from funnelflow.qualify.enrich import ReferenceProvider, enrich_leads
from funnelflow.qualify.normalize import normalize_leads
from funnelflow.qualify.rules import Rules
from funnelflow.qualify.score import score_and_stage
from funnelflow.sales import crm, feedback, sla
from funnelflow.sales.routing import route
from funnelflow.sales.team import SalesTeam
from funnelflow.synth import webinar
from funnelflow.synth.mail import replay_week_events, send_newsletter
from funnelflow.synth.people import rng_for

log = logging.getLogger(__name__)

STREAM_HISTORY = 41  # the rng stream of the past weeks (funnelflow.synth.people numbers the others)
ACCEPT, REJECT = 0.55, 0.2  # of new handoffs; the rest is left untouched and breaches its SLA
REASON_WEIGHTS = (0.35, 0.25, 0.15, 0.1, 0.05, 0.1)  # in REJECT_REASONS order
WON, LOST = 0.45, 0.2  # of accepted handoffs, a deal closes within the week
UPSELL = 0.15  # of earlier customers, an upsell is won in a later week
MONTHLY = 0.35  # of won deals, a monthly contract: renewal date four weeks after the close
RENEWED = 0.7  # of renewals due, renewed


@dataclass
class WeekReplay:
    as_of: datetime
    scored: int = 0
    became_mql: int = 0
    became_sql: int = 0
    routed: int = 0
    accepted: int = 0
    rejected: int = 0
    deals: int = 0
    emailed: int = 0  # the week's newsletter: sent now (a rerun sends nobody again)
    email_events: int = 0  # SendGrid events stored now
    webinar: str = ""  # the past webinar's step in this week, if any


@dataclass
class HistoryResult:
    weeks: list[WeekReplay] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"  {w.as_of:%Y-%m-%d}: {w.scored:,} leads scored, {w.became_mql:,} MQL, {w.became_sql:,} SQL, "
            f"{w.routed:,} handoffs ({w.accepted:,} accepted, {w.rejected:,} rejected), {w.deals:,} deals, "
            f"{w.emailed:,} newsletters sent, {w.email_events:,} SendGrid events{w.webinar}"
            for w in self.weeks
        ]


def _arrived(conn: sa.Connection, as_of: datetime) -> list[int]:
    """Live leads whose first touch came at or before ``as_of``."""
    first = (
        sa.select(touchpoints.c.lead_id)
        .group_by(touchpoints.c.lead_id)
        .having(sa.func.min(touchpoints.c.occurred_at) <= as_of)
        .subquery()
    )
    return list(
        conn.execute(
            sa.select(leads.c.id)
            .join(first, first.c.lead_id == leads.c.id)
            .where(leads.c.merged_into_id.is_(None), leads.c.erased_at.is_(None))
            .order_by(leads.c.id)
        ).scalars()
    )


def _handoffs(conn: sa.Connection) -> set[int]:
    q = sales_queue
    return set(conn.execute(sa.select(q.c.id).where(q.c.kind == "handoff")).scalars())


def _deal_row(
    ext: str, lead_id: int, rep: str | None, stage: str, kind: str, amount: int, opened, closed, renewal
):
    """One row of the CRM's opportunity export, updated when it opened (open) or closed (won, lost)."""
    renewal_text = renewal.isoformat() if renewal else ""
    closed_text = closed.isoformat() if closed else ""
    updated = (closed or opened).isoformat()
    return (
        f"{ext},{lead_id},{rep or ''},{stage},{kind},{amount},EUR,{opened.isoformat()},"
        f"{closed_text},{updated},{renewal_text}"
    )


CSV_HEADER = "id,lead_id,owner,stage,kind,amount,currency,created_at,closed_at,updated_at,renewal_date"


def replay_week(
    engine: sa.Engine, team: SalesTeam, rules: Rules, as_of: datetime, rng: np.random.Generator
) -> WeekReplay:
    week = WeekReplay(as_of)
    run_id = f"demo-history-{as_of:%Y%m%dT%H%M%SZ}"
    sla.sweep(engine, team, as_of=as_of, run_id=run_id)
    with engine.connect() as conn:
        arrived = _arrived(conn, as_of)
        before = _handoffs(conn)
    week.scored = len(arrived)
    if arrived:
        enrich_leads(engine, ReferenceProvider(), as_of=as_of, lead_ids=arrived)
        scored = score_and_stage(engine, rules, as_of=as_of, scope="all", run_id=run_id, lead_ids=arrived)
        week.became_mql = sum(n for (_, to), n in scored.transitions.items() if to == "mql")
        week.became_sql = sum(n for (_, to), n in scored.transitions.items() if to == "sql")
    route(engine, team, as_of=as_of, run_id=run_id)
    with engine.connect() as conn:
        new = sorted(_handoffs(conn) - before)
        items = {
            r.id: r
            for r in conn.execute(
                sa.select(sales_queue.c.id, sales_queue.c.lead_id, sales_queue.c.rep_id).where(
                    sales_queue.c.id.in_(new),
                    sales_queue.c.status == "open",
                    sales_queue.c.rep_id.is_not(None),
                )
            )
        }
    week.routed = len(new)  # feedback goes to those a rep holds (the others wait for capacity)
    opened: list[str] = []  # deals the CRM reports open first (the lead becomes an opportunity)...
    deals: list[str] = []  # ...then closed won or lost
    for item_id in sorted(items):
        item = items[item_id]
        u = rng.random()
        at = as_of + timedelta(hours=float(rng.uniform(0.5, 30)))
        actor = f"rep:{item.rep_id}"
        if u < ACCEPT:
            feedback.accept(engine, item_id, at=at, actor=actor)
            week.accepted += 1
            v = rng.random()
            if v < WON + LOST:
                won = v < WON
                closed = at + timedelta(days=float(rng.uniform(1, 5)))
                amount = int(rng.integers(40, 600)) * 100
                monthly = won and rng.random() < MONTHLY
                renewal = (closed + timedelta(weeks=4 if monthly else 52)).date() if won else None
                opened.append(
                    _deal_row(
                        f"demo-history-{item_id}",
                        item.lead_id,
                        item.rep_id,
                        "open",
                        "new",
                        amount,
                        at,
                        None,
                        None,
                    )
                )
                deals.append(
                    _deal_row(
                        f"demo-history-{item_id}",
                        item.lead_id,
                        item.rep_id,
                        "won" if won else "lost",
                        "new",
                        amount,
                        at,
                        closed,
                        renewal,
                    )
                )
        elif u < ACCEPT + REJECT:
            reason = str(rng.choice(REJECT_REASONS, p=REASON_WEIGHTS))
            feedback.reject(
                engine, item_id, reason, at=at, actor=actor, cooldown_days=team.recycle_cooldown_days
            )
            week.rejected += 1
    deals += _retention_deals(engine, as_of, rng)
    if opened:
        crm.pull_opportunities_csv(
            engine, "\n".join([CSV_HEADER, *opened]) + "\n", as_of=as_of + timedelta(days=2)
        )
    if deals:
        crm.pull_opportunities_csv(
            engine, "\n".join([CSV_HEADER, *deals]) + "\n", as_of=as_of + timedelta(days=6)
        )
    week.deals = len(deals)
    return week


def _retention_deals(engine: sa.Engine, as_of: datetime, rng: np.random.Generator) -> list[str]:
    """Upsells of earlier customers, and renewals of the contracts whose renewal date falls in this week."""
    o = opportunities
    end = as_of + timedelta(days=6)
    with engine.connect() as conn:
        won = conn.execute(
            sa.select(o.c.id, o.c.lead_id, o.c.rep_id, o.c.amount, o.c.renewal_date, o.c.closed_at)
            .where(o.c.stage == "won", o.c.lead_id.is_not(None), o.c.closed_at < as_of)
            .order_by(o.c.id)
        ).all()
    rows = []
    for opp in won:
        closed = as_of + timedelta(hours=float(rng.uniform(1, 120)))
        if opp.renewal_date is not None and as_of.date() <= opp.renewal_date <= end.date():
            if rng.random() < RENEWED:
                rows.append(
                    _deal_row(
                        f"demo-renewal-{opp.id}",
                        opp.lead_id,
                        opp.rep_id,
                        "won",
                        "renewal",
                        int(opp.amount or 0),
                        as_of,
                        closed,
                        opp.renewal_date + timedelta(weeks=4),
                    )
                )
        elif rng.random() < UPSELL / 4:  # about UPSELL of them over a month of weeks
            rows.append(
                _deal_row(
                    f"demo-upsell-{opp.id}-{as_of:%Y%m%d}",
                    opp.lead_id,
                    opp.rep_id,
                    "won",
                    "upsell",
                    int(rng.integers(10, 120)) * 100,
                    as_of,
                    closed,
                    None,
                )
            )
    return rows


def _webinar_step(engine: sa.Engine, transport: Transport, seed: int, until: datetime, back: int) -> str:
    """The past webinar's step in the week replayed ``back`` weeks before ``until`` (none in most)."""
    w = webinar.past_webinar(until - timedelta(weeks=webinar.HELD_WEEKS_BACK))
    if back == webinar.HELD_WEEKS_BACK + 1:
        done = webinar.invite_and_register(engine, w, transport, seed)
        return f", webinar {w.slug}: {done.invited:,} invited"
    if back == webinar.HELD_WEEKS_BACK:
        done = webinar.hold(engine, w, transport, seed)
        return f", webinar {w.slug} held: {done.attended:,} attended, {done.no_show:,} no-show"
    return ""


def build_history(
    engine: sa.Engine,
    team: SalesTeam,
    rules: Rules,
    *,
    seed: int,
    until: datetime,
    weeks: int = 12,
    transport: Transport | None = None,
) -> HistoryResult:
    """Replay the ``weeks - 1`` weeks before ``until`` (the demo's own week is its DAG runs); with a
    ``transport``, each week's newsletter and its events too."""
    rng = rng_for(seed, STREAM_HISTORY)
    result = HistoryResult()
    with clock.pinned(until - timedelta(weeks=weeks - 1)):
        normalize_leads(engine)  # flags, phones, seniority: what scoring reads (no time in it)
    for back in range(weeks - 1, 0, -1):
        as_of = until - timedelta(weeks=back)
        with clock.pinned(as_of):
            week = replay_week(engine, team, rules, as_of, rng)
        if transport is not None:
            week.emailed, _ = send_newsletter(engine, as_of, transport)
            week.webinar = _webinar_step(engine, transport, seed, until, back)
            week.email_events = replay_week_events(engine, as_of, seed)
        result.weeks.append(week)
        log.info("demo history: %s", week)
    return result
