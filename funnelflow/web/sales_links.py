"""``/funnelflow/sales/items/{token}/accept|reject``: the signed links in a rep's alert email.

GET shows the page with the button (mail scanners and link previews open every
link, so it changes nothing); only the POST records the rep's answer through
``funnelflow.sales.feedback``. The token names the queue item, signed with
FUNNELFLOW_SECRET_KEY; the answer is recorded as the item's rep. Pages carry the
same security headers as the unsubscribe pages and no one's details are logged.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from funnelflow.db.schema import REJECT_REASONS, sales_queue, utcnow
from funnelflow.email import tokens
from funnelflow.sales.feedback import REJECT_REASON_LABELS
from funnelflow.web.app import engine_of
from funnelflow.web.preferences import _message, _page

log = logging.getLogger(__name__)

router = APIRouter()

ACTIONS = ("accept", "reject")


def _item_id(token: str) -> int | None:
    try:
        return tokens.read_token("sales_item", token)
    except tokens.InvalidToken:
        return None


def _item_view(engine: sa.Engine, item_id: int) -> dict | None:
    from funnelflow.sales.notify import lead_context

    with engine.connect() as conn:
        item = conn.execute(sa.select(sales_queue).where(sales_queue.c.id == item_id)).mappings().first()
        if item is None:
            return None
        ctx = lead_context(conn, [item["lead_id"]]).get(item["lead_id"], {})
    return {
        "item": dict(item),
        "lead_name": ctx.get("lead_name", ""),
        "company": ctx.get("company", ""),
        "fit_grade": ctx.get("fit_grade", "-"),
    }


@router.get("/sales/items/{token}/{action}", response_class=HTMLResponse)
async def item_page(token: str, action: str, request: Request) -> HTMLResponse:
    item_id = _item_id(token)
    if item_id is None or action not in ACTIONS:
        return _message("invalid")
    view = await run_in_threadpool(_item_view, engine_of(request), item_id)
    if view is None:
        return _message("invalid")
    return _page(
        "sales_item.html",
        title="Accept this lead" if action == "accept" else "Reject this lead",
        action=action,
        item_id=item_id,
        item_status=view["item"]["status"],
        lead_name=view["lead_name"],
        company=view["company"],
        fit_grade=view["fit_grade"],
        reasons=[(r, REJECT_REASON_LABELS[r]) for r in REJECT_REASONS],
    )


def _cooldown_days() -> int:
    from funnelflow.sales.team import SalesTeamError, load_team

    try:
        return load_team().recycle_cooldown_days
    except SalesTeamError:
        log.error("sales_team.yaml is invalid; a rejection uses the default 30-day cooldown")
        return 30


def _act(engine: sa.Engine, item_id: int, action: str, reason: str | None, note: str | None) -> str:
    from funnelflow.sales import feedback

    with engine.connect() as conn:
        rep_id = conn.execute(
            sa.select(sales_queue.c.rep_id).where(sales_queue.c.id == item_id)
        ).scalar_one_or_none()
    actor = f"rep:{rep_id or '-'}"
    if action == "accept":
        return feedback.accept(engine, item_id, at=utcnow(), actor=actor).status
    return feedback.reject(
        engine, item_id, reason or "", at=utcnow(), actor=actor, cooldown_days=_cooldown_days(), note=note
    ).status


@router.post("/sales/items/{token}/{action}", response_class=HTMLResponse)
async def item_action(token: str, action: str, request: Request) -> HTMLResponse:
    item_id = _item_id(token)
    if item_id is None or action not in ACTIONS:
        return _message("invalid")
    form = parse_qs((await request.body())[:4096].decode("utf-8", "replace"))
    reason = (form.get("reason") or [None])[0]
    note = (form.get("note") or [None])[0]
    status = await run_in_threadpool(_act, engine_of(request), item_id, action, reason, note)
    log.info("sales item %d: %s -> %s", item_id, action, status)
    if status == "unknown":
        return _message("invalid")
    if status == "invalid_reason":
        return _page(
            "message.html",
            422,
            title="Choose a reason",
            message="Please go back and choose one of the reasons.",
        )
    if status == "already":
        return _page(
            "message.html",
            title="Already answered",
            message="This lead was already answered; nothing changed.",
        )
    done = (
        "Accepted: the lead is yours."
        if action == "accept"
        else "Rejected: the lead goes back to marketing with your reason."
    )
    return _page("message.html", title="Thank you", message=done)
