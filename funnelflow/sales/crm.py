"""The CRM: it gets each new handoff, and tells us how the opportunities went. Our database stays the truth.

Push (``push_handoffs``): every assigned handoff or call-back not yet in the CRM
is POSTed as JSON to ``{base}/v1/handoffs`` with ``Idempotency-Key:
funnelflow-item-<id>``, so a retry after a lost answer never makes a second
record. 5xx, 429 and timeouts are retried with exponential backoff; a 4xx is
recorded on the item (``crm_status = failed``, ``crm_error``) and shown by
``sales queue``, and never stops the other items. For CRMs without an API,
``export_csv`` writes the same items to ``FUNNELFLOW_HOME/outbox/crm/`` (one file
per run, rewritten identically on a rerun), with every cell that a spreadsheet
would run as a formula neutralised.

Pull (``pull_opportunities``): ``GET {base}/v1/opportunities?cursor=...`` pages
(the cursor is stored with each page's rows in one transaction), or the rows of
a CSV the CRM exported. Each opportunity is upserted by its external id; the
lead's stage follows: open -> ``opportunity``, won -> ``customer``, lost ->
``recycled`` (one ``lifecycle_history`` row per change), and the lead's open
queue items are closed ``won``/``lost``. A row naming no known lead, or with a
bad value, is set aside in ``ingest_rejects`` with its reason.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from funnelflow import settings
from funnelflow.db.schema import (
    OPPORTUNITY_KINDS,
    OPPORTUNITY_STAGES,
    accounts,
    leads,
    lifecycle_history,
    opportunities,
    reps,
    sales_queue,
    utcnow,
)
from funnelflow.db.state import get_state, put_state
from funnelflow.email.transports import scrub
from funnelflow.sales import queue

log = logging.getLogger(__name__)

CURSOR_KEY = "sales.crm.opportunities_cursor"
STAGE_OF_OPPORTUNITY = {"open": "opportunity", "won": "customer", "lost": "recycled"}
# A lead in one of these stages is not moved back by an open opportunity (a customer stays a customer).
_NOT_REOPENED = ("customer",)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class CrmError(RuntimeError):
    """The CRM could not be reached or refused our credentials; the message names no one."""


# --- the HTTP client -------------------------------------------------------------------------


@dataclass
class CrmClient:
    """JSON over HTTP with a bearer key (the Airflow connection ``crm_default`` gives base URL and key)."""

    base_url: str
    api_key: str
    timeout_s: float = 10.0
    max_retries: int = 4
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    transport: Any = None

    def __post_init__(self) -> None:
        import httpx

        if not self.api_key:
            raise CrmError("the CRM API key is empty: set the password of the crm_default connection")
        self._http = httpx.Client(
            base_url=self.base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"},
            timeout=self.timeout_s,
            transport=self.transport,
        )

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any):
        """The response of a 2xx or 4xx answer; 5xx/429/timeouts are retried, then raise CrmError."""
        import httpx

        for attempt in range(self.max_retries + 1):
            try:
                resp = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}"
            else:
                if resp.status_code in (401, 403):
                    raise CrmError(
                        f"the CRM refused our key (HTTP {resp.status_code}); check crm_default's password"
                    )
                if resp.status_code < 500 and resp.status_code != 429:
                    return resp
                problem = f"HTTP {resp.status_code}"
            if attempt == self.max_retries:
                raise CrmError(f"the CRM kept failing ({problem}) after {self.max_retries} retries")
            self.sleep(min(self.backoff_cap_s, self.backoff_base_s * 2**attempt))
        raise AssertionError("unreachable")


# --- push --------------------------------------------------------------------------------------


def _to_push(conn: sa.Connection, *, also_file: str | None = None) -> list[dict[str, Any]]:
    q = sales_queue
    cond = q.c.crm_status.is_(None)
    if also_file is not None:
        cond = sa.or_(cond, sa.and_(q.c.crm_status == "exported", q.c.crm_external_id == also_file))
    stmt = (
        sa.select(
            q.c.id,
            q.c.kind,
            q.c.rep_id,
            q.c.routing_reason,
            q.c.fit_grade,
            q.c.assigned_at,
            q.c.due_at,
            leads.c.id.label("lead_id"),
            leads.c.email,
            leads.c.first_name,
            leads.c.last_name,
            leads.c.company,
            leads.c.job_title,
            leads.c.phone,
            sa.func.coalesce(leads.c.country, accounts.c.country).label("country"),
            accounts.c.domain.label("account_domain"),
        )
        .select_from(
            q.join(leads, leads.c.id == q.c.lead_id).outerjoin(accounts, accounts.c.id == leads.c.account_id)
        )
        .where(
            cond,
            leads.c.erased_at.is_(None),  # an erased person is never sent anywhere again
            q.c.kind.in_(("handoff", "call_back")),
            q.c.rep_id.is_not(None),
            q.c.assigned_at.is_not(None),
        )
        .order_by(q.c.id)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def handoff_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "external_ref": f"funnelflow-item-{row['id']}",
        "kind": row["kind"],
        "owner": row["rep_id"],
        "routing_reason": row["routing_reason"],
        "fit_grade": row["fit_grade"],
        "assigned_at": row["assigned_at"].isoformat(),
        "due_at": row["due_at"].isoformat() if row["due_at"] else None,
        "lead": {
            "funnelflow_id": row["lead_id"],
            "email": row["email"],
            "first_name": row["first_name"],
            "last_name": row["last_name"],
            "company": row["company"],
            "job_title": row["job_title"],
            "phone": row["phone"],
            "country": row["country"],
            "domain": row["account_domain"],
        },
    }


@dataclass
class PushResult:
    pushed: int = 0
    failed: int = 0  # 4xx: recorded on the item
    exported: int = 0
    file: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"pushed": self.pushed, "failed": self.failed, "exported": self.exported, "file": self.file}


def push_handoffs(
    engine: sa.Engine, client: CrmClient, *, as_of: datetime, run_id: str | None = None
) -> PushResult:
    """POST each assigned item not yet in the CRM; one commit per item so a crash loses nothing done."""
    result = PushResult()
    with engine.connect() as conn:
        rows = _to_push(conn)
    for row in rows:
        key = f"funnelflow-item-{row['id']}"
        resp = client.request(
            "POST", "/v1/handoffs", json=handoff_json(row), headers={"Idempotency-Key": key}
        )
        with engine.begin() as conn:
            if resp.status_code < 300:
                external = str((resp.json() or {}).get("id") or "")[:120] or None
                values = {"crm_status": "pushed", "crm_external_id": external, "crm_error": None}
                result.pushed += 1
            else:
                values = {
                    "crm_status": "failed",
                    "crm_error": scrub(f"HTTP {resp.status_code}: {resp.text}")[:2000],
                }
                result.failed += 1
            conn.execute(sales_queue.update().where(sales_queue.c.id == row["id"]).values(**values))
            queue.record(
                conn,
                [
                    queue.Change(
                        row["id"],
                        f"crm_{values['crm_status']}",
                        "crm",
                        as_of,
                        detail={"status": resp.status_code},
                        run_id=run_id,
                    )
                ],
            )
    log.info("CRM push: %s", result.as_dict())
    return result


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ tab or CR gets an apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


CSV_COLUMNS = (
    "external_ref",
    "kind",
    "owner",
    "fit_grade",
    "assigned_at",
    "due_at",
    "funnelflow_id",
    "email",
    "first_name",
    "last_name",
    "company",
    "job_title",
    "phone",
    "country",
    "domain",
    "routing_reason",
)


def crm_outbox() -> Path:
    return settings.funnelflow_home() / "outbox" / "crm"


def export_csv(
    engine: sa.Engine, *, as_of: datetime, folder: Path | None = None, run_id: str | None = None
) -> PushResult:
    """Write the items not yet in the CRM to ``handoffs-<as_of>.csv``; a rerun of the run rewrites the same
    file.
    """
    folder = folder or crm_outbox()
    name = f"handoffs-{as_of.strftime('%Y%m%dT%H%M%SZ')}.csv"
    with engine.begin() as conn:
        queue.lock_routing(conn)  # one exporter at a time: an item lands in exactly one file
        rows = _to_push(conn, also_file=name)
        if not rows:
            return PushResult()
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            flat = handoff_json(row)
            flat |= flat.pop("lead")
            writer.writerow([safe_cell(flat.get(c)) for c in CSV_COLUMNS])
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.tmp"
        tmp.write_text(buf.getvalue(), encoding="utf-8")
        tmp.replace(folder / name)
        ids = [r["id"] for r in rows]
        conn.execute(
            sales_queue.update()
            .where(sales_queue.c.id.in_(ids))
            .values(crm_status="exported", crm_external_id=name)
        )
    return PushResult(exported=len(rows), file=name)


def scrub_exports(folder: Path, lead_ids: Iterable[int], names_address: Callable[[str], bool]) -> int:
    """Erasure: blank the rows of CRM exports about these leads (by id, or naming their address).

    A blanked row keeps its place (an empty line of separators), so the file's line
    numbers stay. Returns how many files changed.
    """
    if not folder.exists():
        return 0
    wanted = {str(i) for i in lead_ids}
    id_col = CSV_COLUMNS.index("funnelflow_id")
    changed = 0
    for path in sorted(folder.glob("*.csv")):
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
        hit = False
        for n, row in enumerate(rows[1:], start=1):
            about = (len(row) > id_col and row[id_col] in wanted) or any(names_address(c) for c in row)
            if about and any(row):
                rows[n] = [""] * len(row)
                hit = True
        if hit:
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\r\n").writerows(rows)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(buf.getvalue(), encoding="utf-8")
            tmp.replace(path)
            changed += 1
    return changed


# --- pull --------------------------------------------------------------------------------------


@dataclass
class PullResult:
    pages: int = 0
    upserted: int = 0
    rejected: int = 0
    stage_changes: int = 0
    rejects: list[tuple[str, str]] = field(default_factory=list)  # (external id, reason)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "upserted": self.upserted,
            "rejected": self.rejected,
            "stage_changes": self.stage_changes,
        }


def _ts(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} has no zone")
    return parsed


def parse_opportunity(raw: dict[str, Any]) -> dict[str, Any]:
    """One CRM opportunity as our row; ValueError naming the field when something is wrong."""
    ext = str(raw.get("id") or "").strip()
    if not ext:
        raise ValueError("id: missing")
    stage = str(raw.get("stage") or "").strip().lower()
    if stage not in OPPORTUNITY_STAGES:
        raise ValueError(f"stage: {raw.get('stage')!r} is not one of {list(OPPORTUNITY_STAGES)}")
    kind = str(raw.get("kind") or "new").strip().lower()
    if kind not in OPPORTUNITY_KINDS:
        raise ValueError(f"kind: {raw.get('kind')!r} is not one of {list(OPPORTUNITY_KINDS)}")
    try:
        lead_id = int(raw.get("lead_id"))
    except (TypeError, ValueError):
        raise ValueError("lead_id: missing or not a funnelflow lead id") from None
    try:
        amount = Decimal(str(raw["amount"])) if raw.get("amount") not in (None, "") else None
    except InvalidOperation:
        raise ValueError(f"amount: {raw.get('amount')!r} is not a number") from None
    try:
        created = _ts(raw.get("created_at"))
        closed = _ts(raw.get("closed_at"))
        updated = _ts(raw.get("updated_at"))
        renewal = date.fromisoformat(str(raw["renewal_date"])) if raw.get("renewal_date") else None
    except ValueError as exc:
        raise ValueError(f"dates: {exc}") from None
    if created is None:
        raise ValueError("created_at: missing")
    currency = (raw.get("currency") or None) and str(raw["currency"]).upper()[:3]
    return {
        "external_id": ext[:120],
        "lead_id": lead_id,
        "rep_id": (str(raw["owner"]) if raw.get("owner") else None),
        "amount": amount,
        "currency": currency,
        "kind": kind,
        "stage": stage,
        "created_at": created,
        "closed_at": closed,
        "renewal_date": renewal,
        "crm_updated_at": updated,
    }


def apply_opportunities(
    conn: sa.Connection, raws: Iterable[dict[str, Any]], *, as_of: datetime, source: str, result: PullResult
) -> None:
    """Upsert opportunities and move their leads' stages; bad rows go to ``ingest_rejects`` with a reason."""
    from funnelflow.ingest.store import write_rejects

    known_reps = set(conn.execute(sa.select(reps.c.id)).scalars())
    lead_facts = sa.select(
        leads.c.id, leads.c.merged_into_id, leads.c.erased_at, leads.c.lifecycle_stage, leads.c.account_id
    ).where(leads.c.id == sa.bindparam("id"))
    for raw in raws:
        try:
            row = parse_opportunity(raw)
            lead = conn.execute(lead_facts, {"id": row["lead_id"]}).mappings().first()
            if lead is not None and lead["merged_into_id"]:  # the CRM may still name a merged lead
                lead = conn.execute(lead_facts, {"id": lead["merged_into_id"]}).mappings().first()
            if lead is None or lead["erased_at"] is not None:
                raise ValueError("lead_id: no such lead in funnelflow")
        except ValueError as exc:
            result.rejected += 1
            result.rejects.append((str(raw.get("id")), str(exc)))
            write_rejects(
                conn, source, "crm:opportunities", [(None, f"opportunity {exc}", dict(raw))], utcnow()
            )
            continue
        row["lead_id"] = lead["id"]
        row["account_id"] = lead["account_id"]
        if row["rep_id"] not in known_reps:
            row["rep_id"] = None
        existing = conn.execute(
            sa.select(opportunities.c.id, opportunities.c.crm_updated_at).where(
                opportunities.c.external_id == row["external_id"]
            )
        ).first()
        if existing is None:
            conn.execute(opportunities.insert().values(synced_at=as_of, **row))
        elif (
            existing.crm_updated_at is None
            or row["crm_updated_at"] is None
            or row["crm_updated_at"] >= existing.crm_updated_at
        ):
            conn.execute(
                opportunities.update().where(opportunities.c.id == existing.id).values(synced_at=as_of, **row)
            )
        else:
            continue  # an older version of what we already have
        result.upserted += 1
        result.stage_changes += _follow_stage(conn, lead, row, as_of)


def _follow_stage(conn: sa.Connection, lead: dict, opp: dict, as_of: datetime) -> int:
    target = STAGE_OF_OPPORTUNITY[opp["stage"]]
    current = lead["lifecycle_stage"]
    at = opp["closed_at"] or opp["crm_updated_at"] or as_of
    if opp["stage"] in ("won", "lost"):
        closed = (
            conn.execute(
                sa.select(sales_queue.c.id).where(
                    sales_queue.c.lead_id == lead["id"],
                    sales_queue.c.status.in_(("open", "accepted")),
                    sales_queue.c.kind.in_(("handoff", "call_back")),
                )
            )
            .scalars()
            .all()
        )
        for item_id in closed:
            queue.set_status(
                conn,
                item_id,
                actor="crm",
                action=opp["stage"],
                at=as_of,
                expect=("open", "accepted"),
                values={
                    "status": opp["stage"],
                    "closed_at": at,
                    "outcome_reason": f"opportunity:{opp['external_id']}"[:60],
                },
            )
    if current == target or (target == "opportunity" and current in _NOT_REOPENED):
        return 0
    if target == "recycled" and current == "customer":
        return 0  # a lost upsell does not make a customer a recycled lead
    values: dict[str, Any] = {"lifecycle_stage": target, "lifecycle_changed_at": at}
    conn.execute(leads.update().where(leads.c.id == lead["id"]).values(**values))
    conn.execute(
        lifecycle_history.insert().values(
            lead_id=lead["id"],
            from_stage=current,
            to_stage=target,
            changed_at=at,
            reason=f"crm:opportunity {opp['external_id']} {opp['stage']}"[:255],
        )
    )
    return 1


def pull_opportunities(
    engine: sa.Engine, client: CrmClient, *, as_of: datetime, page_size: int = 100, max_pages: int = 1000
) -> PullResult:
    """Read opportunity updates page by page from the stored cursor; each page and its cursor in one
    transaction.
    """
    result = PullResult()
    with engine.connect() as conn:
        cursor = get_state(conn, CURSOR_KEY)
    for _ in range(max_pages):
        params: dict[str, Any] = {"limit": page_size}
        if cursor:
            params["cursor"] = cursor
        resp = client.request("GET", "/v1/opportunities", params=params)
        if resp.status_code >= 400:
            raise CrmError(f"the CRM refused the opportunity list (HTTP {resp.status_code})")
        body = resp.json()
        data = body.get("data") or []
        with engine.begin() as conn:
            apply_opportunities(conn, data, as_of=as_of, source="crm", result=result)
            next_cursor = body.get("next_cursor") or cursor
            if next_cursor != cursor:
                put_state(conn, CURSOR_KEY, next_cursor)
        result.pages += 1
        if not body.get("has_more") or next_cursor == cursor:
            break
        cursor = next_cursor
    log.info("CRM pull: %s", result.as_dict())
    return result


def pull_opportunities_csv(engine: sa.Engine, text: str, *, as_of: datetime) -> PullResult:
    """Opportunity rows from a CSV the CRM exported (same columns as the API's fields)."""
    result = PullResult()
    rows = list(csv.DictReader(io.StringIO(text)))
    with engine.begin() as conn:
        apply_opportunities(conn, rows, as_of=as_of, source="crm_csv", result=result)
    result.pages = 1
    return result


CRM_INBOX_FOLDER = "crm"  # under the lead inbox; ingestion reads only the inbox's top level


def pull_opportunity_files(engine: sa.Engine, fs: Any, inbox_root: str, *, as_of: datetime) -> PullResult:
    """Apply each CSV the CRM dropped into ``<lead inbox>/crm/``, then move it to ``crm/done/``.

    Applying a file twice changes nothing (upserts by external id, stages only move when they
    differ), so a crash between the commit and the move is harmless.
    """
    from funnelflow.ingest.files import Inbox

    inbox = Inbox(fs, f"{inbox_root.rstrip('/')}/{CRM_INBOX_FOLDER}")
    total = PullResult()
    if not inbox.exists():
        return total
    for name in inbox.drops():
        if not name.lower().endswith(".csv"):
            continue
        with inbox.open(name) as fh:
            text = fh.read().decode("utf-8-sig")
        result = pull_opportunities_csv(engine, text, as_of=as_of)
        fs.makedirs(inbox.path("done"), exist_ok=True)
        fs.mv(inbox.path(name), inbox.path("done", name))
        total.pages += 1
        total.upserted += result.upserted
        total.rejected += result.rejected
        total.stage_changes += result.stage_changes
    return total
