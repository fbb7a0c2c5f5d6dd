"""``/funnelflow/cti/lookup`` and ``/funnelflow/cti/calls``: the telephony system asks who is calling and logs
calls.

Not public: every request carries ``Authorization: Bearer <FUNNELFLOW_CTI_API_KEY>``,
compared in constant time; without the setting every call is refused (503),
like the SendGrid webhook without its key. Answers name the caller (the rep's
screen needs it); logs carry ids and counts only.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from funnelflow import settings
from funnelflow.db.schema import utcnow
from funnelflow.web.app import engine_of, lookup_engine_of

log = logging.getLogger(__name__)

router = APIRouter()
MAX_BODY_BYTES = 8192


def _refused(request: Request) -> JSONResponse | None:
    key = settings.env("FUNNELFLOW_CTI_API_KEY")
    if not key:
        return JSONResponse({"error": "CTI is not configured (FUNNELFLOW_CTI_API_KEY)"}, status_code=503)
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
        return JSONResponse(
            {"error": "missing or wrong bearer key"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    return None


@lru_cache(maxsize=4)
def _team_cached(path: str, mtime_ns: int):
    from funnelflow.sales.team import load_team

    return load_team(Path(path))


def _team():
    """The team file, re-read only when it changes (every lookup needs it, most never route)."""
    from funnelflow.sales.team import team_path

    path = team_path()
    return _team_cached(str(path), os.stat(path).st_mtime_ns)


@router.get("/cti/lookup")
async def cti_lookup(request: Request, phone: str | None = None, email: str | None = None) -> JSONResponse:
    refused = _refused(request)
    if refused is not None:
        return refused
    if bool(phone) == bool(email):
        return JSONResponse({"error": "give exactly one of phone or email"}, status_code=422)
    from funnelflow.sales.cti import CtiInputError, lookup

    try:
        answer = await run_in_threadpool(
            lookup, lookup_engine_of(request), _team(), as_of=utcnow(), phone=phone, email=email
        )
    except CtiInputError as exc:
        return JSONResponse({"error": str(exc)}, status_code=422)
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


@router.post("/cti/calls")
async def cti_calls(request: Request) -> JSONResponse:
    refused = _refused(request)
    if refused is not None:
        return refused
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return JSONResponse({"error": "body too large"}, status_code=413)
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError
    except ValueError:
        return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
    allowed = {"call_id", "direction", "rep_id", "duration_s", "outcome", "phone", "email", "lead_id"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        return JSONResponse({"error": f"unknown fields {unknown}"}, status_code=422)
    from funnelflow.sales.cti import CtiInputError, log_call

    try:
        duration = int(data.get("duration_s", 0))
        lead_id = int(data["lead_id"]) if data.get("lead_id") is not None else None
        logged = await run_in_threadpool(
            lambda: log_call(
                engine_of(request),
                _team(),
                call_id=str(data.get("call_id") or ""),
                direction=str(data.get("direction") or ""),
                rep_id=data.get("rep_id"),
                duration_s=duration,
                outcome=str(data.get("outcome") or ""),
                at=utcnow(),
                phone=data.get("phone"),
                email=data.get("email"),
                lead_id=lead_id,
            )
        )
    except (CtiInputError, ValueError, TypeError) as exc:
        return JSONResponse({"error": str(exc) or "duration_s and lead_id are numbers"}, status_code=422)
    if logged.lead_id is None:
        return JSONResponse({"found": False}, status_code=404)
    log.info(
        "cti call logged: lead %d, touch %s, call-back item %s",
        logged.lead_id,
        logged.touch_id,
        logged.call_back_item,
    )
    return JSONResponse(
        {
            "found": True,
            "lead_id": logged.lead_id,
            "touch_id": logged.touch_id,
            "duplicate": logged.duplicate,
            "call_back_item": logged.call_back_item,
        },
        status_code=200 if logged.duplicate else 201,
    )
