"""Loading synthetic accounts, leads, touchpoints and consents into the marketing database.

The people here are 'already ingested': addresses lower-cased, ``email_key`` from
``funnelflow.identity.email_key`` and unique, no mess. PostgreSQL gets COPY in
blocks of ``BLOCK_SIZE`` leads (memory stays flat whatever the count); SQLite gets
chunked executemany. One transaction: a failure leaves nothing behind. Lead ids
are assigned here (after the highest existing id, with the table locked on
PostgreSQL) so touchpoints and consents can point at them without a round trip.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa

from funnelflow.db.engine import is_postgres
from funnelflow.db.schema import accounts, consents, leads, touchpoints
from funnelflow.identity import email_key
from funnelflow.synth.people import BLOCK_SIZE, STREAM_DB, iter_people, rng_for
from funnelflow.synth.reference import load_companies
from funnelflow.synth.touches import TOUCH_COLUMNS, generate_touchpoints

log = logging.getLogger(__name__)

ENRICHMENT_SOURCE = "synth-reference"
STAGES = ("lead", "mql", "sql", "customer", "subscriber", "opportunity")
STAGE_P = (0.8, 0.09, 0.04, 0.03, 0.03, 0.01)
CONSENT_STATUS_P = {"granted": 0.85, "pending": 0.12, "denied": 0.03}
LEAD_COLUMNS = (
    "id", "email", "email_key", "email_domain", "first_name", "last_name", "company", "job_title", "phone",
    "phone_e164", "country", "account_id", "lifecycle_stage", "lifecycle_changed_at", "original_source",
    "first_seen_at", "last_seen_at", "created_at", "updated_at",
)
CONSENT_COLUMNS = ("lead_id", "channel", "status", "legal_basis", "source", "wording_version", "recorded_at")
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
    touchpoints: pd.DataFrame
    consents: dict[str, np.ndarray]


def _to_s(until: datetime) -> np.datetime64:
    if until.tzinfo is None:
        raise ValueError("until must be timezone-aware")
    return np.datetime64(until.astimezone(UTC).replace(tzinfo=None), "s")


def ensure_accounts(conn: sa.Connection, companies: pd.DataFrame, until: datetime) -> tuple[dict[str, int], int]:
    """Accounts for every company of the universe (existing ones by domain are kept); domain -> id."""
    existing = dict(conn.execute(sa.select(accounts.c.domain, accounts.c.id).where(accounts.c.domain.is_not(None))).all())
    missing = companies[~companies["domain"].isin(existing)]
    if len(missing):
        rows = [
            {"domain": r.domain, "name": r.name, "industry": r.industry, "employee_band": r.employee_band,
             "revenue_band": r.revenue_band, "country": r.country, "region": r.region,
             "enrichment_source": ENRICHMENT_SOURCE, "enriched_at": until, "created_at": until, "updated_at": until}
            for r in missing.itertuples(index=False)
        ]
        conn.execute(accounts.insert(), rows)
        existing = dict(conn.execute(sa.select(accounts.c.domain, accounts.c.id).where(accounts.c.domain.is_not(None))).all())
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
) -> Iterator[Block]:
    """Rows for leads ``first_id``.. in blocks; deterministic for the seed (ids aside)."""
    end = _to_s(until)
    span = int(weeks * 7 * 86400)
    for block, people in enumerate(iter_people(n_leads, seed, companies=companies, block_size=block_size)):
        rng = rng_for(seed, STREAM_DB, block)
        size = len(people)
        ids = first_id + people["person_id"].to_numpy(dtype=np.int64)
        first_seen = end - rng.integers(3600, span, size=size).astype("timedelta64[s]")
        emails = people["email"].to_numpy(dtype=object)
        keys = np.array([email_key(e) for e in emails], dtype=object)
        if touchpoints_per_lead > 0:
            touches = generate_touchpoints(ids, first_seen, until=until, seed=seed, per_lead=touchpoints_per_lead,
                                           block=block, ref_prefix=f"synth-{seed}")
            counts = np.bincount((touches["lead_id"].to_numpy() - ids[0]).astype(np.int64), minlength=size)
            starts = np.cumsum(counts) - counts
            occurred = touches["occurred_at"].to_numpy()
            last_seen = np.maximum.reduceat(occurred, starts) if len(occurred) else first_seen
            original_source = touches["source"].to_numpy(dtype=object)[starts]
        else:
            touches = pd.DataFrame(columns=list(TOUCH_COLUMNS))
            last_seen = first_seen
            sources = np.array(["website", "tradeshow-2026-berlin", "list-upload", "linkedin-lead-gen"], dtype=object)
            original_source = sources[rng.integers(0, len(sources), size=size)]
        stage = np.array(STAGES, dtype=object)[rng.choice(len(STAGES), size=size, p=STAGE_P)]
        changed = first_seen + ((last_seen - first_seen).astype(np.int64) * rng.random(size)).astype("timedelta64[s]")
        free = people["free_mail"].to_numpy(dtype=bool)
        domains = people["company_domain"].to_numpy(dtype=object)
        account = np.array([None if f else account_ids.get(d) for f, d in zip(free, domains, strict=True)], dtype=object)
        title = people["job_title"].to_numpy(dtype=object).copy()
        title[title == ""] = None
        lead_cols = {
            "id": ids, "email": emails, "email_key": keys, "email_domain": people["email_domain"].to_numpy(dtype=object),
            "first_name": people["first_name"].to_numpy(dtype=object), "last_name": people["last_name"].to_numpy(dtype=object),
            "company": people["company"].to_numpy(dtype=object), "job_title": title,
            "phone": people["phone"].to_numpy(dtype=object), "phone_e164": people["phone_e164"].to_numpy(dtype=object),
            "country": people["country"].to_numpy(dtype=object), "account_id": account, "lifecycle_stage": stage,
            "lifecycle_changed_at": np.where(stage == "lead", np.datetime64("NaT"), changed).astype("datetime64[s]"),
            "original_source": original_source, "first_seen_at": first_seen, "last_seen_at": last_seen,
            "created_at": first_seen, "updated_at": last_seen,
        }
        status_names = list(CONSENT_STATUS_P)
        status = np.array(status_names, dtype=object)[rng.choice(len(status_names), size=size, p=list(CONSENT_STATUS_P.values()))]
        legal = np.where(status == "granted", np.where(rng.random(size) < 0.7, "consent", "legitimate_interest"), "consent").astype(object)
        consent_cols = {
            "lead_id": ids, "channel": np.full(size, "email", dtype=object), "status": status, "legal_basis": legal,
            "source": original_source, "wording_version": np.full(size, "2026-01", dtype=object), "recorded_at": first_seen,
        }
        if len(touches):
            touches["created_at"] = touches["occurred_at"]
        yield Block(lead_cols, touches, consent_cols)


def load_database(
    engine: sa.Engine,
    n_leads: int,
    *,
    seed: int = 42,
    until: datetime,
    weeks: int = 12,
    touchpoints_per_lead: float = 10,
    companies: pd.DataFrame | None = None,
    block_size: int = BLOCK_SIZE,
) -> LoadResult:
    """Add ``n_leads`` synthetic leads (with accounts, touchpoints, consents) in one transaction."""
    companies = load_companies() if companies is None else companies
    pg = is_postgres(engine)
    n_touch = n_consent = 0
    with engine.begin() as conn:
        if pg:
            # Ids are assigned here; nobody else may insert leads until we set the sequence.
            conn.exec_driver_sql("lock table leads in exclusive mode")
        account_ids, n_accounts = ensure_accounts(conn, companies, until)
        first_id = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(leads.c.id), 0))).scalar_one()) + 1
        blocks = iter_blocks(n_leads, first_id=first_id, account_ids=account_ids, seed=seed, until=until, weeks=weeks,
                             touchpoints_per_lead=touchpoints_per_lead, companies=companies, block_size=block_size)
        for i, block in enumerate(blocks):
            if pg:
                _copy(conn, "leads", LEAD_COLUMNS, block.leads)
                _copy(conn, "consents", CONSENT_COLUMNS, block.consents)
                if len(block.touchpoints):
                    _copy(conn, "touchpoints", TOUCH_DB_COLUMNS, {c: block.touchpoints[c].to_numpy() for c in TOUCH_DB_COLUMNS})
            else:
                _insert(conn, leads, LEAD_COLUMNS, block.leads)
                _insert(conn, consents, CONSENT_COLUMNS, block.consents)
                if len(block.touchpoints):
                    _insert(conn, touchpoints, TOUCH_DB_COLUMNS, {c: block.touchpoints[c].to_numpy() for c in TOUCH_DB_COLUMNS})
            n_touch += len(block.touchpoints)
            n_consent += len(block.consents["lead_id"])
            log.info("synth db: block %d loaded (%d touchpoints so far)", i, n_touch)
        if pg and n_leads:
            conn.exec_driver_sql("select setval(pg_get_serial_sequence('leads', 'id'), (select max(id) from leads))")
    return LoadResult(n_accounts, n_leads, n_touch, n_consent, first_id if n_leads else None)


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


def _copy(conn: sa.Connection, table: str, columns: tuple[str, ...], cols: dict[str, np.ndarray]) -> None:
    """COPY one block in CSV form (unquoted empty = NULL), written in pieces of a few MB."""
    data = [_pg_text(np.asarray(cols[c])) for c in columns]
    raw = conn.connection.driver_connection
    sql = f"copy {table} ({', '.join(columns)}) from stdin with (format csv)"
    with raw.cursor() as cur, cur.copy(sql) as copy:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        rows = zip(*data, strict=True)
        while True:
            chunk = list(_take(rows, 20_000))
            if not chunk:
                break
            writer.writerows(chunk)
            copy.write(buf.getvalue())
            buf.seek(0)
            buf.truncate()


def _take(it, n: int):
    for _ in range(n):
        try:
            yield next(it)
        except StopIteration:
            return


def _py(values: np.ndarray) -> list:
    if np.issubdtype(values.dtype, np.datetime64):
        return [None if pd.isna(v) else v.replace(tzinfo=UTC) for v in pd.to_datetime(values).to_pydatetime()]
    if values.dtype == np.bool_:
        return [bool(v) for v in values]
    if np.issubdtype(values.dtype, np.integer):
        return [int(v) for v in values]
    return [None if (isinstance(v, float) and v != v) else v for v in values.tolist()]


def _insert(conn: sa.Connection, table: sa.Table, columns: tuple[str, ...], cols: dict[str, np.ndarray], chunk: int = 5000) -> None:
    data = [_py(np.asarray(cols[c])) for c in columns]
    rows = [dict(zip(columns, r, strict=True)) for r in zip(*data, strict=True)]
    for start in range(0, len(rows), chunk):
        conn.execute(table.insert(), rows[start : start + chunk])
