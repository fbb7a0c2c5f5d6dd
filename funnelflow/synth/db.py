"""Loading synthetic accounts, leads, touchpoints and consents into the marketing database.

The people here are 'already ingested': addresses lower-cased, ``email_key`` from
``funnelflow.identity.email_key`` and unique, no mess. PostgreSQL gets COPY in
blocks of ``BLOCK_SIZE`` leads (memory stays flat whatever the count); SQLite gets
chunked executemany. One transaction: a failure leaves nothing behind. Lead ids
are assigned here (after the highest existing id, with the table locked on
PostgreSQL) so touchpoints and consents can point at them without a round trip.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa

from funnelflow.db.helpers import copy_csv, csv_text, is_postgres, read_ahead
from funnelflow.db.schema import accounts, consents, leads, lifecycle_history, touchpoints
from funnelflow.identity import email_key
from funnelflow.synth.people import BLOCK_SIZE, STREAM_DB, iter_people, rng_for
from funnelflow.synth.reference import load_companies
from funnelflow.synth.touches import CODED_COLUMNS, LOOKUPS, TOUCH_COLUMNS, TouchCodes, decode, touch_codes

log = logging.getLogger(__name__)

ENRICHMENT_SOURCE = "synth-reference"
STAGES = ("lead", "mql", "sql", "customer", "subscriber", "opportunity")
STAGE_P = (0.8, 0.09, 0.04, 0.03, 0.03, 0.01)
CONSENT_STATUS_P = {"granted": 0.85, "pending": 0.12, "denied": 0.03}
LEAD_COLUMNS = (
    "id",
    "email",
    "email_key",
    "email_domain",
    "first_name",
    "last_name",
    "company",
    "job_title",
    "phone",
    "phone_e164",
    "country",
    "account_id",
    "lifecycle_stage",
    "lifecycle_changed_at",
    "mql_since",
    "original_source",
    "first_seen_at",
    "last_seen_at",
    "created_at",
    "updated_at",
)
CONSENT_COLUMNS = ("lead_id", "channel", "status", "legal_basis", "source", "wording_version", "recorded_at")
HISTORY_COLUMNS = ("lead_id", "from_stage", "to_stage", "changed_at", "reason")
HISTORY_REASON = "synthetic data: starting stage"
LOADED_TABLES = ("leads", "consents", "touchpoints", "lifecycle_history")
TOUCH_DB_COLUMNS = (*TOUCH_COLUMNS, "created_at")


@dataclass(frozen=True)
class LoadResult:
    accounts: int
    leads: int
    touchpoints: int
    consents: int
    first_lead_id: int | None


@dataclass(frozen=True)
class Block:
    """One block of rows for the three tables, as column dicts (timestamps datetime64[s], UTC)."""

    leads: dict[str, np.ndarray]
    touchpoints: TouchCodes | None
    consents: dict[str, np.ndarray]
    history: dict[str, np.ndarray]  # a lifecycle_history row for each lead past the first stage


def _to_s(until: datetime) -> np.datetime64:
    if until.tzinfo is None:
        raise ValueError("until must be timezone-aware")
    return np.datetime64(until.astimezone(UTC).replace(tzinfo=None), "s")


def ensure_accounts(
    conn: sa.Connection, companies: pd.DataFrame, until: datetime
) -> tuple[dict[str, int], int]:
    """Accounts for every company of the universe (existing ones by domain are kept); domain -> id."""
    existing = dict(
        conn.execute(sa.select(accounts.c.domain, accounts.c.id).where(accounts.c.domain.is_not(None))).all()
    )
    missing = companies[~companies["domain"].isin(existing)]
    if len(missing):
        rows = [
            {
                "domain": r.domain,
                "name": r.name,
                "industry": r.industry,
                "employee_band": r.employee_band,
                "revenue_band": r.revenue_band,
                "country": r.country,
                "region": r.region,
                "competitor": bool(r.competitor),
                "enrichment_source": ENRICHMENT_SOURCE,
                "enriched_at": until,
                "created_at": until,
                "updated_at": until,
            }
            for r in missing.itertuples(index=False)
        ]
        conn.execute(accounts.insert(), rows)
        existing = dict(
            conn.execute(
                sa.select(accounts.c.domain, accounts.c.id).where(accounts.c.domain.is_not(None))
            ).all()
        )
    return existing, len(missing)


def iter_blocks(
    n_leads: int,
    *,
    first_id: int,
    account_ids: dict[str, int],
    seed: int,
    until: datetime,
    weeks: int,
    touchpoints_per_lead: float,
    companies: pd.DataFrame | None = None,
    block_size: int = BLOCK_SIZE,
    taken: set[str] | None = None,
) -> Iterator[Block]:
    """Rows for leads ``first_id``.. in blocks; deterministic for the seed (ids aside)."""
    end = _to_s(until)
    span = int(weeks * 7 * 86400)
    for block, people in enumerate(
        iter_people(n_leads, seed, companies=companies, block_size=block_size, taken=taken)
    ):
        rng = rng_for(seed, STREAM_DB, block)
        size = len(people)
        ids = first_id + people["person_id"].to_numpy(dtype=np.int64)
        first_seen = end - rng.integers(3600, span, size=size).astype("timedelta64[s]")
        emails = people["email"].to_numpy(dtype=object)
        keys = np.array([email_key(e) for e in emails], dtype=object)
        touches: TouchCodes | None = None
        if touchpoints_per_lead > 0:
            touches = touch_codes(
                ids, first_seen, until=until, seed=seed, per_lead=touchpoints_per_lead, block=block
            )
            starts = np.flatnonzero(touches.nth == 0)  # each lead's touches are contiguous, arrival first
            last_seen = np.maximum.reduceat(touches.occurred_at, starts)
            original_source = np.array(LOOKUPS["source"], dtype=object)[touches.codes["source"][starts]]
        else:
            last_seen = first_seen
            sources = np.array(
                ["website", "tradeshow-2026-berlin", "list-upload", "linkedin-lead-gen"], dtype=object
            )
            original_source = sources[rng.integers(0, len(sources), size=size)]
        stage = np.array(STAGES, dtype=object)[rng.choice(len(STAGES), size=size, p=STAGE_P)]
        changed = first_seen + ((last_seen - first_seen).astype(np.int64) * rng.random(size)).astype(
            "timedelta64[s]"
        )
        free = people["free_mail"].to_numpy(dtype=bool)
        domains = people["company_domain"].to_numpy(dtype=object)
        account = np.array(
            [None if f else account_ids.get(d) for f, d in zip(free, domains, strict=True)], dtype=object
        )
        title = people["job_title"].to_numpy(dtype=object).copy()
        title[title == ""] = None
        lead_cols = {
            "id": ids,
            "email": emails,
            "email_key": keys,
            "email_domain": people["email_domain"].to_numpy(dtype=object),
            "first_name": people["first_name"].to_numpy(dtype=object),
            "last_name": people["last_name"].to_numpy(dtype=object),
            "company": people["company"].to_numpy(dtype=object),
            "job_title": title,
            "phone": people["phone"].to_numpy(dtype=object),
            "phone_e164": people["phone_e164"].to_numpy(dtype=object),
            "country": people["country"].to_numpy(dtype=object),
            "account_id": account,
            "lifecycle_stage": stage,
            "lifecycle_changed_at": np.where(stage == "lead", np.datetime64("NaT"), changed).astype(
                "datetime64[s]"
            ),
            "mql_since": np.where(stage == "mql", changed, np.datetime64("NaT")).astype("datetime64[s]"),
            "original_source": original_source,
            "first_seen_at": first_seen,
            "last_seen_at": last_seen,
            "created_at": first_seen,
            "updated_at": last_seen,
        }
        status_names = list(CONSENT_STATUS_P)
        status = np.array(status_names, dtype=object)[
            rng.choice(len(status_names), size=size, p=list(CONSENT_STATUS_P.values()))
        ]
        legal = np.where(
            status == "granted", np.where(rng.random(size) < 0.7, "consent", "legitimate_interest"), "consent"
        ).astype(object)
        consent_cols = {
            "lead_id": ids,
            "channel": np.full(size, "email", dtype=object),
            "status": status,
            "legal_basis": legal,
            "source": original_source,
            "wording_version": np.full(size, "2026-01", dtype=object),
            "recorded_at": first_seen,
        }
        moved = stage != "lead"
        history_cols = {
            "lead_id": ids[moved],
            "from_stage": np.where(stage[moved] == "subscriber", None, "lead").astype(object),
            "to_stage": stage[moved],
            "changed_at": changed[moved],
            "reason": np.full(int(moved.sum()), HISTORY_REASON, dtype=object),
        }
        yield Block(lead_cols, touches, consent_cols, history_cols)


def load_database(
    engine: sa.Engine,
    n_leads: int,
    *,
    seed: int = 42,
    until: datetime,
    weeks: int = 12,
    touchpoints_per_lead: float = 10,
    companies: pd.DataFrame | None = None,
    block_size: int | None = None,
) -> LoadResult:
    """Add ``n_leads`` synthetic leads (with accounts, touchpoints, consents) in one transaction.

    Deterministic for the same arguments on the same database state: addresses
    already in ``leads`` are never reused (a rerun gets new people, with their own keys).
    """
    companies = load_companies() if companies is None else companies
    if block_size is None:
        # About 100,000 touchpoints per block keeps memory flat at 10 per lead.
        block_size = (
            BLOCK_SIZE
            if touchpoints_per_lead <= 0
            else max(2_000, min(BLOCK_SIZE, int(100_000 // touchpoints_per_lead)))
        )
    pg = is_postgres(engine)
    n_touch = n_consent = 0
    with engine.begin() as conn:
        if pg:
            # Ids are assigned here; nobody else may write these tables until we are done.
            conn.exec_driver_sql(f"lock table {', '.join(LOADED_TABLES)} in exclusive mode")
            conn.exec_driver_sql("set local maintenance_work_mem = '256MB'")
        account_ids, n_accounts = ensure_accounts(conn, companies, until)
        first_id = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(leads.c.id), 0))).scalar_one()) + 1
        taken = None
        if first_id > 1:
            rows = conn.execute(
                sa.select(leads.c.email_key)
                .where(leads.c.email_key.is_not(None))
                .execution_options(stream_results=True, yield_per=50_000)
            )
            taken = {key for (key,) in rows}
        rebuild: list[tuple[str, str]] = []
        if pg and n_leads and _bulk_worthwhile(conn, n_leads):
            rebuild = _drop_secondary(conn, LOADED_TABLES)
        ref_prefix = f"synth-{seed}"
        if pg and touchpoints_per_lead > 0:
            conn.exec_driver_sql(_TOUCH_TEMP_DDL)
        blocks = iter_blocks(
            n_leads,
            first_id=first_id,
            account_ids=account_ids,
            seed=seed,
            until=until,
            weeks=weeks,
            touchpoints_per_lead=touchpoints_per_lead,
            companies=companies,
            block_size=block_size,
            taken=taken,
        )
        # On PostgreSQL a thread makes and renders the next block while the server takes this one.
        items = (
            read_ahead(_rendered(blocks), depth=1, name="synth-blocks")
            if pg
            else ((b, "", "", "") for b in blocks)
        )
        for i, (block, leads_text, consents_text, history_text) in enumerate(items):
            touches = block.touchpoints
            if pg:
                copy_csv(conn, "leads", LEAD_COLUMNS, leads_text)
                copy_csv(conn, "consents", CONSENT_COLUMNS, consents_text)
                if history_text:
                    copy_csv(conn, "lifecycle_history", HISTORY_COLUMNS, history_text)
                if touches is not None and len(touches):
                    _copy_touches(conn, touches, ref_prefix)
            else:
                _insert(conn, leads, LEAD_COLUMNS, block.leads)
                _insert(conn, consents, CONSENT_COLUMNS, block.consents)
                if len(block.history["lead_id"]):
                    _insert(conn, lifecycle_history, HISTORY_COLUMNS, block.history)
                if touches is not None and len(touches):
                    frame = decode(touches, ref_prefix)
                    frame["created_at"] = frame["occurred_at"]
                    _insert(
                        conn,
                        touchpoints,
                        TOUCH_DB_COLUMNS,
                        {c: frame[c].to_numpy() for c in TOUCH_DB_COLUMNS},
                    )
            n_touch += len(touches) if touches is not None else 0
            n_consent += len(block.consents["lead_id"])
            log.info("synth db: block %d loaded (%d touchpoints so far)", i, n_touch)
        started = time.perf_counter()
        for _drop, create in rebuild:
            conn.exec_driver_sql(create)
        if rebuild:
            log.info(
                "synth db: %d indexes and constraints rebuilt in %.1fs",
                len(rebuild),
                time.perf_counter() - started,
            )
        if pg and n_leads:
            conn.exec_driver_sql(
                "select setval(pg_get_serial_sequence('leads', 'id'), (select max(id) from leads))"
            )
            for table in LOADED_TABLES:
                conn.exec_driver_sql(f"analyze {table}")
    return LoadResult(n_accounts, n_leads, n_touch, n_consent, first_id if n_leads else None)


def _bulk_worthwhile(conn: sa.Connection, n_leads: int) -> bool:
    """Rebuilding indexes pays when we add at least as many leads as the table holds."""
    existing = conn.exec_driver_sql(
        "select count(*) from (select 1 from leads limit %(n)s) s", {"n": n_leads}
    ).scalar_one()
    return n_leads >= existing


def _drop_secondary(conn: sa.Connection, tables: tuple[str, ...]) -> list[tuple[str, str]]:
    """Drop secondary indexes, unique and foreign-key constraints of these tables; return (drop, create) SQL.

    PostgreSQL's advice for populating a database: load first, then build indexes and
    check foreign keys once, set-based. Primary keys stay. All of it happens inside the
    load's transaction, so a failure (a duplicate key, a dangling id) rolls everything back.
    """
    statements: list[tuple[str, str]] = []
    for table in tables:
        cons = conn.exec_driver_sql(
            "select conname, pg_get_constraintdef(oid) from pg_constraint "
            "where conrelid = %(t)s::regclass and contype in ('u', 'f') order by contype desc, conname",
            {"t": table},
        ).all()
        idx = conn.exec_driver_sql(
            "select i.relname, pg_get_indexdef(i.oid) "
            "from pg_index x join pg_class i on i.oid = x.indexrelid "
            "where x.indrelid = %(t)s::regclass and not x.indisprimary "
            "and not exists (select 1 from pg_constraint c where c.conindid = i.oid) order by i.relname",
            {"t": table},
        ).all()
        for name, definition in cons:
            statements.append(
                (
                    f'alter table {table} drop constraint "{name}"',
                    f'alter table {table} add constraint "{name}" {definition}',
                )
            )
        for name, definition in idx:
            statements.append((f'drop index "{name}"', definition))
    for drop, _create in statements:
        conn.exec_driver_sql(drop)
    # Unique constraints before foreign keys on the way back (a key may need its index).
    statements.sort(key=lambda s: ("foreign key" in s[1].lower(), s[1]))
    return statements


# --- writers ------------------------------------------------------------------------


def _pg_text(values: np.ndarray) -> list:
    """A column as values the csv module writes for COPY (None -> NULL, timestamps with zone)."""
    if np.issubdtype(values.dtype, np.datetime64):
        text = np.datetime_as_string(values.astype("datetime64[s]"), unit="s")
        out = np.char.add(text, "+00").astype(object)
        out[np.isnat(values)] = None
        return out.tolist()
    if values.dtype == object:
        out = values.copy()
        out[pd.isna(values)] = None
        return out.tolist()
    return values.tolist()


def _block_csv(columns: tuple[str, ...], cols: dict[str, np.ndarray]) -> str:
    """A block's columns as COPY's CSV form: unquoted empty is NULL, timestamps carry their zone."""
    return csv_text(zip(*[_pg_text(np.asarray(cols[c])) for c in columns], strict=True))


def _rendered(blocks: Iterator[Block]) -> Iterator[tuple[Block, str, str, str]]:
    """Blocks with their rows already rendered as COPY text (done in the prefetch thread)."""
    for block in blocks:
        yield (
            block,
            _block_csv(LEAD_COLUMNS, block.leads),
            _block_csv(CONSENT_COLUMNS, block.consents),
            _block_csv(HISTORY_COLUMNS, block.history),
        )


_TOUCH_TEMP_DDL = (
    "create temp table synth_touch_codes (lead_id bigint, nth integer, occurred_at timestamptz, "
    + ", ".join(f"c_{c} smallint" for c in CODED_COLUMNS)
    + ", scored boolean) on commit drop"
)
# Column names come from our own constants; the lookup tables and prefix are bound parameters.
_TOUCH_EXPAND_SQL = (
    "insert into touchpoints (lead_id, occurred_at, "  # noqa: S608
    f"{', '.join(CODED_COLUMNS)}, source_ref, scored, created_at) "
    "select lead_id, occurred_at, "
    + ", ".join(f"(%({c})s::text[])[c_{c}]" + ("::jsonb" if c == "detail" else "") for c in CODED_COLUMNS)
    + ", %(prefix)s || ':' || lead_id || ':' || nth, scored, occurred_at from synth_touch_codes"
)
_PG_EPOCH = np.datetime64("2000-01-01T00:00:00", "us")


def _binary_copy_payload(touches: TouchCodes) -> bytes:
    """The touches in PostgreSQL's binary COPY format, built as one numpy record array (no Python per row)."""
    layout = [
        ("nfields", ">i2"),
        ("len_lead", ">i4"),
        ("lead_id", ">i8"),
        ("len_nth", ">i4"),
        ("nth", ">i4"),
        ("len_ts", ">i4"),
        ("ts", ">i8"),
    ]
    for c in CODED_COLUMNS:
        layout += [(f"len_{c}", ">i4"), (c, ">i2")]
    layout += [("len_scored", ">i4"), ("scored", "u1")]
    rec = np.empty(len(touches), dtype=np.dtype(layout))
    rec["nfields"] = 4 + len(CODED_COLUMNS)
    rec["len_lead"], rec["lead_id"] = 8, touches.lead_id
    rec["len_nth"], rec["nth"] = 4, touches.nth
    rec["len_ts"] = 8
    rec["ts"] = (touches.occurred_at.astype("datetime64[us]") - _PG_EPOCH).astype(np.int64)
    for c in CODED_COLUMNS:
        rec[f"len_{c}"], rec[c] = 2, touches.codes[c]
    rec["len_scored"], rec["scored"] = 1, touches.scored
    header = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
    return header + rec.tobytes() + b"\xff\xff"


def _copy_touches(conn: sa.Connection, touches: TouchCodes, ref_prefix: str) -> None:
    """Touches as codes, binary-COPYed into a temp table and expanded to text by one insert."""
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy("copy synth_touch_codes from stdin with (format binary)") as copy:
            copy.write(_binary_copy_payload(touches))
        cur.execute(
            _TOUCH_EXPAND_SQL, {**{c: list(LOOKUPS[c][1:]) for c in CODED_COLUMNS}, "prefix": ref_prefix}
        )
        cur.execute("truncate synth_touch_codes")


def _py(values: np.ndarray) -> list:
    if np.issubdtype(values.dtype, np.datetime64):
        return [None if pd.isna(v) else v.replace(tzinfo=UTC) for v in pd.to_datetime(values).to_pydatetime()]
    if values.dtype == np.bool_:
        return [bool(v) for v in values]
    if np.issubdtype(values.dtype, np.integer):
        return [int(v) for v in values]
    return [None if (isinstance(v, float) and v != v) else v for v in values.tolist()]


def _insert(
    conn: sa.Connection,
    table: sa.Table,
    columns: tuple[str, ...],
    cols: dict[str, np.ndarray],
    chunk: int = 5000,
) -> None:
    data = [_py(np.asarray(cols[c])) for c in columns]
    rows = [dict(zip(columns, r, strict=True)) for r in zip(*data, strict=True)]
    groups = [rows]
    if "detail" in columns:
        # JSON text becomes a dict; rows without detail leave the column out: SQL NULL, not JSON null.
        with_detail = [{**r, "detail": json.loads(r["detail"])} for r in rows if r["detail"] is not None]
        without = [{k: v for k, v in r.items() if k != "detail"} for r in rows if r["detail"] is None]
        groups = [with_detail, without]
    for group in groups:
        for start in range(0, len(group), chunk):
            conn.execute(table.insert(), group[start : start + chunk])
