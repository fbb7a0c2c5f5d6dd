"""Emails about queue items, through the sending layer (transactional, one message key per item and rep).

- *alert* to the assigned rep, once per item and rep (``sales-alert:<item>:<rep>``;
  a reassignment alerts the new rep): who the lead is, company facts, fit grade
  and the top reasons from the score breakdown, the last touches, the lead's own
  words, the deadline, and signed Accept / Reject links (the pages change nothing
  until their button is pressed).
- *reminder* to the rep at half time (``sales-reminder:<item>:<rep>``).
- *escalation* to the manager of the rep's team at the breach (``sales-escalation:<item>``).

The ledger claims each key before sending, so reruns and retries never send twice.
Nothing here logs a name, an address or the lead's words.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from funnelflow.db.schema import accounts, email_sends, leads, reps, sales_queue, touchpoints
from funnelflow.email import policy
from funnelflow.email.send import Mailing, Recipient, SendOptions, SendReport, public_url, send_mailing
from funnelflow.email.tokens import make_token
from funnelflow.email.transports import Transport

TEMPLATE = "sales_item"
LOOKBACK = timedelta(days=7)  # items older than this that never got their email are not mailed late
TOUCHES_SHOWN = 5


def item_url(item_id: int, action: str) -> str:
    """The signed page of a rep's action on an item (GET shows the page; only its POST records)."""
    return f"{public_url()}/sales/items/{make_token('sales_item', item_id)}/{action}"


def top_reasons(breakdown: dict | None, n: int = 3) -> str:
    """The strongest fit rules and engagement signals of a score breakdown, e.g. "seniority_vp +20,
    pricing_page +9.5".
    """
    if not breakdown:
        return "not scored yet"
    parts: list[tuple[float, str]] = []
    for section in ("fit", "engagement"):
        for name, points in (breakdown.get(section) or {}).items():
            if isinstance(points, int | float) and points > 0:
                parts.append((float(points), name))
    parts.sort(key=lambda p: (-p[0], p[1]))
    return ", ".join(f"{name} +{points:g}" for points, name in parts[:n]) or "no positive signals"


@functools.cache
def _context_statements() -> tuple[sa.Select, sa.Select]:
    """The two statements of ``lead_context``, built once."""
    ids = sa.bindparam("lead_ids", expanding=True)
    rows = (
        sa.select(
            leads.c.id,
            leads.c.first_name,
            leads.c.last_name,
            leads.c.company,
            leads.c.job_title,
            leads.c.country,
            leads.c.fit_grade,
            leads.c.engagement_score,
            leads.c.lifecycle_stage,
            leads.c.score_breakdown,
            leads.c.account_id,
            leads.c.owner_rep_id,
            accounts.c.owner_rep_id.label("account_owner"),
            accounts.c.name.label("account_name"),
            accounts.c.industry,
            accounts.c.employee_band,
            accounts.c.revenue_band,
            accounts.c.country.label("account_country"),
        )
        .select_from(leads.outerjoin(accounts, accounts.c.id == leads.c.account_id))
        .where(leads.c.id.in_(ids))
    )
    ranked = (
        sa.select(
            touchpoints.c.lead_id,
            touchpoints.c.occurred_at,
            touchpoints.c.touch_type,
            touchpoints.c.page_url,
            touchpoints.c.detail,
            sa.func.row_number()
            .over(
                partition_by=touchpoints.c.lead_id,
                order_by=(touchpoints.c.occurred_at.desc(), touchpoints.c.id.desc()),
            )
            .label("rn"),
        )
        .where(touchpoints.c.lead_id.in_(ids))
        .subquery()
    )
    touches = sa.select(ranked).where(ranked.c.rn <= RECENT_TOUCHES).order_by(ranked.c.lead_id, ranked.c.rn)
    return rows, touches


RECENT_TOUCHES = 20  # the touches read per lead: five are shown, the lead's words come from any of them


@dataclass(frozen=True)
class RecentTouch:
    occurred_on: str  # YYYY-MM-DD (UTC)
    touch_type: str
    page_url: str | None
    message: Any  # the lead's own words, when the touch carried them


def screen_of(r: Mapping[str, Any], recent: Iterable[RecentTouch]) -> dict[str, Any]:
    """What a rep (or a CTI screen) sees of a lead, from its row (lead and account columns as
    ``lead_context`` reads them) and its recent touches, newest first."""
    name = " ".join(p for p in (r["first_name"], r["last_name"]) if p) or "(no name given)"
    facts = ", ".join(
        p
        for p in (
            r["industry"],
            f"{r['employee_band']} employees" if r["employee_band"] else None,
            r["revenue_band"],
        )
        if p
    )
    touches: list[str] = []
    words = ""
    for t in recent:
        if len(touches) < TOUCHES_SHOWN:
            touches.append(f"{t.occurred_on} {t.touch_type}{f' {t.page_url}' if t.page_url else ''}")
        if t.message and not words:
            words = str(t.message)
    return {
        "lead_name": name,
        "company": r["company"] or r["account_name"] or "",
        "job_title": r["job_title"] or "",
        "country": r["country"] or r["account_country"] or "",
        "company_facts": facts,
        "fit_grade": r["fit_grade"] or "-",
        "engagement_score": r["engagement_score"],
        "stage": r["lifecycle_stage"],
        "reasons": top_reasons(r["score_breakdown"]),
        "touches": touches,
        "lead_words": words,
        # for routing (CTI's route_to): the lead's facts and owners
        "lead_id": r["id"],
        "account_id": r["account_id"],
        "owner_rep_id": r["owner_rep_id"],
        "account_owner": r["account_owner"],
        "employee_band": r["employee_band"],
        "industry": r["industry"],
    }


def lead_context(conn: sa.Connection, lead_ids: list[int]) -> dict[int, dict[str, Any]]:
    """What a rep sees of each lead (``screen_of``): facts, account, reasons, last touches, their words."""
    if not lead_ids:
        return {}
    rows_stmt, touches_stmt = _context_statements()
    recent: dict[int, list[RecentTouch]] = defaultdict(list)
    for t in conn.execute(touches_stmt, {"lead_ids": list(lead_ids)}).mappings():
        detail = t["detail"]
        message = detail.get("message") if isinstance(detail, dict) else None
        recent[t["lead_id"]].append(
            RecentTouch(f"{t['occurred_at']:%Y-%m-%d}", t["touch_type"], t["page_url"], message)
        )
    rows = conn.execute(rows_stmt, {"lead_ids": list(lead_ids)}).mappings()
    return {r["id"]: screen_of(r, recent[r["id"]]) for r in rows}


def _recipient(item: dict, rep_email: str, ctx: dict[str, Any], key: str, due: str) -> Recipient:
    values = {
        k: ctx[k]
        for k in (
            "lead_name",
            "company",
            "job_title",
            "country",
            "company_facts",
            "fit_grade",
            "reasons",
            "lead_words",
        )
    }
    values |= {
        "touches": "\n".join(ctx["touches"]),
        "due": due,
        "accept_url": item_url(item["id"], "accept"),
        "reject_url": item_url(item["id"], "reject"),
    }
    return Recipient(email=rep_email, lead_id=None, values=values, message_key=key)


def _not_sent(key: sa.ColumnElement) -> sa.ColumnElement[bool]:
    return ~sa.exists().where(email_sends.c.message_key == key)


def _key(prefix: str, *parts: sa.ColumnElement) -> sa.ColumnElement:
    """A message key built in SQL, e.g. ``sales-alert:<item id>:<rep id>``."""
    expr: sa.ColumnElement = sa.literal(prefix) + sa.cast(parts[0], sa.String)
    for part in parts[1:]:
        expr = expr + sa.literal(":") + sa.cast(part, sa.String)
    return expr


def _due_text(item: dict, zones: dict[str, str]) -> str:
    from zoneinfo import ZoneInfo

    if item["due_at"] is None:
        return "-"
    zone = zones.get(item["rep_id"] or "", "UTC")
    return item["due_at"].astimezone(ZoneInfo(zone)).strftime("%a %d %b %H:%M ") + zone


def send_item_emails(
    engine: sa.Engine, transport: Transport, *, as_of: datetime, options: SendOptions | None = None
) -> dict[str, SendReport]:
    """Alerts, reminders and escalations not sent yet; each once (message key per item and rep)."""
    q = sales_queue
    assigned = reps.alias("assigned")  # the item's rep, whose manager gets the escalation
    since = as_of - LOOKBACK
    kinds = {
        "alert": (
            "New sales lead for you",
            _key("sales-alert:", q.c.id, q.c.rep_id),
            sa.and_(q.c.status == "open", q.c.assigned_at > since, q.c.assigned_at <= as_of),
            reps.c.id == q.c.rep_id,
        ),
        "reminder": (
            "Reminder: half the follow-up time is gone",
            _key("sales-reminder:", q.c.id, q.c.rep_id),
            sa.and_(q.c.status == "open", q.c.first_action_at.is_(None), q.c.reminded_at > since),
            reps.c.id == q.c.rep_id,
        ),
        "escalation": (
            "Escalation: follow-up time passed without action",
            _key("sales-escalation:", q.c.id),
            sa.and_(q.c.status == "open", q.c.first_action_at.is_(None), q.c.escalated_at > since),
            reps.c.id
            == sa.select(assigned.c.manager_id).where(assigned.c.id == q.c.rep_id).scalar_subquery(),
        ),
    }
    reports: dict[str, SendReport] = {}
    with engine.connect() as conn:
        zones = dict(conn.execute(sa.select(reps.c.id, reps.c.timezone)).all())
    for kind, (headline, key, where, to_rep) in kinds.items():
        with engine.connect() as conn:
            rows = [
                dict(r)
                for r in conn.execute(
                    sa.select(q, key.label("message_key"), reps.c.email.label("to_email"))
                    .select_from(q.join(reps, to_rep))
                    .where(where, _not_sent(key))
                    .order_by(q.c.id)
                ).mappings()
            ]
            contexts = lead_context(conn, sorted({r["lead_id"] for r in rows}))
        recipients = [
            _recipient(r, r["to_email"], contexts[r["lead_id"]], r["message_key"], _due_text(r, zones))
            for r in rows
            if r["lead_id"] in contexts
        ]
        reports[kind] = _send(engine, transport, headline, recipients, as_of, options)
    return reports


def _send(
    engine: sa.Engine,
    transport: Transport,
    headline: str,
    recipients: Iterable[Recipient],
    as_of: datetime,
    options: SendOptions | None,
) -> SendReport:
    recipients = list(recipients)
    if not recipients:
        return SendReport()
    mailing = Mailing(
        message_key="sales-item", template=TEMPLATE, kind=policy.TRANSACTIONAL, context={"headline": headline}
    )
    opts = options or SendOptions.from_settings()
    opts.batched = False  # every message differs (lead facts, links)
    return send_mailing(engine, mailing, recipients, transport, as_of=as_of, options=opts)


def send_digests(
    engine: sa.Engine,
    transport: Transport,
    *,
    as_of: datetime,
    near_hours: float = 4,
    options: SendOptions | None = None,
) -> SendReport:
    """One digest per rep with open items (``sales-digest:<rep>:<day>``): what is open, what is due soon."""
    q = sales_queue
    by_rep: dict[str, list[dict]] = defaultdict(list)
    with engine.connect() as conn:
        for r in conn.execute(
            sa.select(q.c.id, q.c.lead_id, q.c.rep_id, q.c.kind, q.c.status, q.c.due_at)
            .where(q.c.status.in_(("open", "accepted")), q.c.rep_id.is_not(None))
            .order_by(q.c.due_at.is_(None), q.c.due_at, q.c.id)
        ).mappings():
            by_rep[r["rep_id"]].append(dict(r))
        people = {
            r.id: r for r in conn.execute(sa.select(reps.c.id, reps.c.name, reps.c.email, reps.c.timezone))
        }
    soon = as_of + timedelta(hours=near_hours)
    day = as_of.date().isoformat()
    recipients = []
    for rep_id, items in sorted(by_rep.items()):
        rep = people.get(rep_id)
        if rep is None:
            continue
        zones = {rep_id: rep.timezone}
        near = [i for i in items if i["status"] == "open" and i["due_at"] and i["due_at"] <= soon]
        lines = [
            f"item {i['id']} (lead {i['lead_id']}, {i['kind']}, {i['status']}): due {_due_text(i, zones)}"
            + (" - DUE SOON" if i in near else "")
            for i in items
        ]
        recipients.append(
            Recipient(
                email=rep.email,
                values={
                    "rep_name": rep.name,
                    "open_count": str(len(items)),
                    "near_count": str(len(near)),
                    "items": "\n".join(lines),
                },
                message_key=f"sales-digest:{rep_id}:{day}",
            )
        )
    if not recipients:
        return SendReport()
    mailing = Mailing(message_key="sales-digest", template="sales_digest", kind=policy.TRANSACTIONAL)
    opts = options or SendOptions.from_settings()
    opts.batched = False
    return send_mailing(engine, mailing, recipients, transport, as_of=as_of, options=opts)
