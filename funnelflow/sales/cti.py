"""Computer-telephony integration: who is calling, who should take the call, and the call's record.

``lookup`` finds a caller by phone (any format with its country code) or email,
following merges to the surviving lead and never finding an erased person. It
answers the screen a rep sees while the phone rings (stage, grade, engagement
and its top reasons, the last five touches, the lead's own words, the open queue
item) and ``route_to``: the rep with the open item, else the account owner (for a
lead without an account, its own owner, ``leads.owner_rep_id``), else the rep the
routing rules pick now, else the inbound team of the team file.

``log_call`` records a call as a ``sales_activity`` touch (once per ``call_id``).
An inbound call from a lead with no owner and no open item creates a
``call_back`` item routed like a new SQL: the unplanned handoff.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from funnelflow import sql
from funnelflow.db.schema import Json, UTCDateTime, accounts, leads, sales_queue, touchpoints
from funnelflow.identity import email_key
from funnelflow.qualify.normalize import phone_e164
from funnelflow.sales import queue
from funnelflow.sales.notify import RecentTouch, screen_of
from funnelflow.sales.routing import LeadFacts, Router, RouteResult, route_rows
from funnelflow.sales.team import SalesTeam

DIRECTIONS = ("inbound", "outbound")
OUTCOMES = ("connected", "voicemail", "no_answer", "busy", "wrong_number", "meeting_booked")
_MAX_MERGE_HOPS = 20


class CtiInputError(ValueError):
    """A request the CTI system must fix (the message says what)."""


def normalize_phone(raw: str) -> str:
    """E.164 from any common way of writing an international number; CtiInputError otherwise."""
    text = (raw or "").strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    e164 = phone_e164(text, None)
    if e164 is None:
        raise CtiInputError(
            "phone: not a valid international number; send it with its country code (+49 ...)"
        )
    return e164


def _find(conn: sa.Connection, *, phone: str | None, email: str | None) -> int | None:
    if phone:
        cond = leads.c.phone_e164 == normalize_phone(phone)
    elif email:
        key = email_key(email)
        if key is None:
            raise CtiInputError("email: not an email address")
        cond = leads.c.email_key == key
    else:
        raise CtiInputError("give phone or email")
    rows = conn.execute(
        sa.select(leads.c.id, leads.c.merged_into_id, leads.c.erased_at)
        .where(cond)
        .order_by(leads.c.merged_into_id.is_not(None), leads.c.updated_at.desc(), leads.c.id)
        .limit(5)
    ).all()
    for lead_id, merged_into, erased in rows:
        if erased is not None:
            continue
        resolved = lead_id
        hops = 0
        while merged_into is not None and hops < _MAX_MERGE_HOPS:
            nxt = conn.execute(
                sa.select(leads.c.id, leads.c.merged_into_id, leads.c.erased_at).where(
                    leads.c.id == merged_into
                )
            ).first()
            if nxt is None:
                break
            resolved, merged_into, erased = nxt
            hops += 1
        if erased is None:
            return resolved
    return None


def _lead_row(conn: sa.Connection, lead_id: int) -> dict[str, Any]:
    """What routing needs of a lead, and who owns it."""
    row = (
        conn.execute(
            sa.select(
                leads.c.id.label("lead_id"),
                leads.c.account_id,
                leads.c.fit_grade,
                leads.c.owner_rep_id,
                sa.func.coalesce(leads.c.country, accounts.c.country).label("country"),
                accounts.c.employee_band,
                accounts.c.industry,
                accounts.c.owner_rep_id.label("account_owner"),
            )
            .select_from(leads.outerjoin(accounts, accounts.c.id == leads.c.account_id))
            .where(leads.c.id == lead_id)
        )
        .mappings()
        .one()
    )
    return dict(row)


def _facts(team: SalesTeam, row: dict[str, Any]) -> LeadFacts:
    return LeadFacts(
        lead_id=row["lead_id"],
        account_id=row["account_id"],
        country=row["country"],
        segment=team.segment_of(row["employee_band"]),
        industry=row["industry"],
    )


def _open_item(conn: sa.Connection, lead_id: int) -> dict[str, Any] | None:
    q = sales_queue
    row = (
        conn.execute(
            sa.select(q.c.id, q.c.kind, q.c.status, q.c.rep_id, q.c.due_at)
            .where(q.c.lead_id == lead_id, q.c.status.in_(("open", "accepted")))
            .order_by(q.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def _inbound(team: SalesTeam) -> dict[str, Any]:
    return {"team": team.inbound_team, "rep_id": None, "why": "inbound_team"}


ROUTER_SECONDS = 30  # how long the routing state of a route_to pick is reused
_routers: dict[str, tuple[sa.Engine, SalesTeam, int, Router]] = {}
_routers_lock = threading.Lock()


def _route_pick(conn: sa.Connection, engine: sa.Engine, team: SalesTeam, as_of: datetime, facts: LeadFacts):
    """What the routing rules would decide now, for ``route_to`` (a hint while the phone rings; nothing
    is assigned). The reps' loads and last assignments are read at most once per ``ROUTER_SECONDS``
    per database and team file, so a busy phone line does not count the whole queue per call."""
    bucket = int(as_of.timestamp()) // ROUTER_SECONDS
    with _routers_lock:
        cached = _routers.get("now")
        if cached and cached[0] is engine and cached[1] is team and cached[2] == bucket:
            return cached[3].decide(facts)  # decide refreshes shared heaps: one thread at a time
    router = Router(team, as_of, *queue.rep_stats(conn))
    with _routers_lock:
        _routers["now"] = (engine, team, bucket, router)
        return router.decide(facts)


@functools.cache
def _caller_statement(dialect: str) -> sa.TextClause:
    typed = {"score_breakdown": Json, "item_due_at": UTCDateTime(), "touches": Json}
    return sql.load("sales/cti_caller", dialect).columns(**typed)


def _caller(conn: sa.Connection, *, phone: str | None, email: str | None) -> sa.RowMapping | None:
    """The caller's screen row (``include/sql/sales/cti_caller``): one statement, one round trip."""
    if phone:
        params = {"phone_e164": normalize_phone(phone), "email_key": None}
    elif email:
        key = email_key(email)
        if key is None:
            raise CtiInputError("email: not an email address")
        params = {"phone_e164": None, "email_key": key}
    else:
        raise CtiInputError("give phone or email")
    return conn.execute(_caller_statement(conn.dialect.name), params).mappings().first()


def lookup(
    engine: sa.Engine, team: SalesTeam, *, as_of: datetime, phone: str | None = None, email: str | None = None
) -> dict[str, Any]:
    """The CTI screen for a caller (``found: false`` with the inbound team when nobody matches).

    Read-only, on an autocommit connection: no BEGIN/ROLLBACK round trips per call. A connection
    the server dropped (a restart) is retried once on a fresh one, so the engine needs no pre-ping.
    """
    try:
        return _lookup(engine, team, as_of=as_of, phone=phone, email=email)
    except sa.exc.DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        return _lookup(engine, team, as_of=as_of, phone=phone, email=email)


def _lookup(
    engine: sa.Engine, team: SalesTeam, *, as_of: datetime, phone: str | None, email: str | None
) -> dict[str, Any]:
    with engine.connect() as raw:
        conn = raw.execution_options(isolation_level="AUTOCOMMIT")
        row = _caller(conn, phone=phone, email=email)
        if row is None:
            return {"found": False, "route_to": _inbound(team)}
        recent = sorted(row["touches"] or [], key=lambda t: t[0])  # [position, day, type, page, words]
        ctx = screen_of(row, (RecentTouch(*t[1:]) for t in recent))
        item = (
            {"id": row["item_id"], **{f: row[f"item_{f}"] for f in ("kind", "status", "rep_id", "due_at")}}
            if row["item_id"] is not None
            else None
        )
        account_owner, lead_owner = ctx["account_owner"], ctx["owner_rep_id"]
        if item and item["rep_id"]:
            route_to = {"rep_id": item["rep_id"], "why": "open_item"}
        elif account_owner:
            route_to = {"rep_id": account_owner, "why": "account_owner"}
        elif lead_owner:  # a lead without an account is owned directly
            route_to = {"rep_id": lead_owner, "why": "lead_owner"}
        else:
            facts = _facts(team, {**ctx, "country": ctx["country"] or None})
            decision = _route_pick(conn, engine, team, as_of, facts)
            route_to = (
                {"rep_id": decision.rep_id, "why": f"routing:{decision.reason}"}
                if decision.rep_id
                else _inbound(team)
            )
    return {
        "found": True,
        "lead_id": row["id"],
        "name": ctx["lead_name"],
        "company": ctx["company"],
        "job_title": ctx["job_title"],
        "stage": ctx["stage"],
        "fit_grade": ctx["fit_grade"],
        "engagement_score": ctx["engagement_score"],
        "top_reasons": ctx["reasons"],
        "last_touches": ctx["touches"],
        "lead_words": ctx["lead_words"] or None,
        "owner_rep_id": account_owner or lead_owner,
        "open_item": (
            {**item, "due_at": item["due_at"].isoformat() if item["due_at"] else None} if item else None
        ),
        "route_to": route_to,
    }


@dataclass(frozen=True)
class CallLogged:
    lead_id: int | None
    touch_id: int | None
    call_back_item: int | None
    duplicate: bool = False


def log_call(
    engine: sa.Engine,
    team: SalesTeam,
    *,
    call_id: str,
    direction: str,
    rep_id: str | None,
    duration_s: int,
    outcome: str,
    at: datetime,
    phone: str | None = None,
    email: str | None = None,
    lead_id: int | None = None,
) -> CallLogged:
    """Record a call as a ``sales_activity`` touch (once per call id); an unowned inbound caller gets a call-
    back item.
    """
    if direction not in DIRECTIONS:
        raise CtiInputError(f"direction: use one of {list(DIRECTIONS)}")
    if outcome not in OUTCOMES:
        raise CtiInputError(f"outcome: use one of {list(OUTCOMES)}")
    if not call_id or len(call_id) > 120:
        raise CtiInputError("call_id: required, at most 120 characters")
    if not 0 <= duration_s <= 86_400:
        raise CtiInputError("duration_s: seconds between 0 and 86400")
    with engine.begin() as conn:
        if lead_id is None:
            lead_id = _find(conn, phone=phone, email=email)
        if lead_id is None:
            return CallLogged(None, None, None)
        if team.rep(rep_id or "") is None and rep_id is not None:
            raise CtiInputError(f"rep_id: {rep_id!r} is not a rep of the team file")
        ref = f"cti:{call_id}"
        seen = conn.execute(
            sa.select(touchpoints.c.id).where(touchpoints.c.source_ref == ref)
        ).scalar_one_or_none()
        if seen is not None:
            return CallLogged(lead_id, seen, None, duplicate=True)
        touch_id = conn.execute(
            touchpoints.insert()
            .values(
                lead_id=lead_id,
                occurred_at=at,
                channel="sales",
                touch_type="sales_activity",
                source="cti",
                detail={
                    "activity": "call",
                    "direction": direction,
                    "rep_id": rep_id,
                    "duration_s": duration_s,
                    "outcome": outcome,
                },
                source_ref=ref,
                scored=False,
            )
            .returning(touchpoints.c.id)
        ).scalar_one()
    item_id = None
    if direction == "inbound":
        item_id = _call_back(engine, team, lead_id, call_id, at)
    return CallLogged(lead_id, touch_id, item_id)


def _call_back(engine: sa.Engine, team: SalesTeam, lead_id: int, call_id: str, at: datetime) -> int | None:
    """A call-back item for an inbound caller nobody owns and nobody is working on, routed like a new SQL."""
    with engine.begin() as conn:
        queue.lock_routing(conn)
        row = _lead_row(conn, lead_id)
        if row["account_owner"] or row["owner_rep_id"] or _open_item(conn, lead_id):
            return None
        queue.sync_reps(conn, team, at)
        key = f"call:{call_id}"
        entry = {**row, "entry_key": key, "kind": "call_back", "entered_at": at}
        route_rows(conn, team, [entry], as_of=at, run_id=f"cti:{call_id}", result=RouteResult(at))
        return conn.execute(
            sa.select(sales_queue.c.id).where(sales_queue.c.entry_key == key)
        ).scalar_one_or_none()
