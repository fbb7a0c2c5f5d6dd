"""Set-based writes of validated rows: leads upserted, one touchpoint per arrival, consents, suppressions.

A batch is staged in a temporary table (COPY on PostgreSQL, executemany on
SQLite) with one row per person (``match_key``: email key, else E.164 phone,
else the source's external id), then three statements resolve known people,
insert new ones and fill the blanks of known ones. Filling only blanks is how
"never overwrite better data with worse" is kept: a value already held is
never replaced by what a later list says. The caller owns the transaction.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from funnelflow.db import schema
from funnelflow.identity import hash_key
from funnelflow.ingest.timing import timed

LEAD_COLUMNS = ("email", "email_key", "email_domain", "first_name", "last_name", "company", "job_title", "phone",
                "phone_e164", "country", "external_source", "external_id", "original_source")
STAGE_COLUMNS = ("match_key", *LEAD_COLUMNS, "first_seen_at", "last_seen_at")
TOUCH_COLUMNS = ("lead_id", "occurred_at", "channel", "touch_type", "source", "campaign", "utm_source", "utm_medium",
                 "utm_campaign", "utm_term", "utm_content", "page_url", "detail", "source_ref", "scored", "created_at")
OUTCOMES = ("inserted", "updated", "rejected", "duplicate")

CREATE_STAGE = """
create temporary table if not exists ingest_stage_leads (
    match_key varchar(400) primary key,
    email varchar(320), email_key varchar(320), email_domain varchar(255), first_name varchar(120),
    last_name varchar(120), company varchar(255), job_title varchar(255), phone varchar(64),
    phone_e164 varchar(20), country varchar(2), external_source varchar(60), external_id varchar(255),
    original_source varchar(60), first_seen_at {ts}, last_seen_at {ts}, lead_id bigint, is_new boolean
)
"""
CLEAR_STAGE = "delete from ingest_stage_leads"
TRUNCATE_STAGE = "truncate ingest_stage_leads"  # PostgreSQL: no dead rows piling up chunk after chunk
# Known people: by email key; without an email, by phone (oldest lead with it); else by the source's id.
RESOLVE_BY_EMAIL = """
update ingest_stage_leads set lead_id = l.id
from leads l
where ingest_stage_leads.lead_id is null and ingest_stage_leads.email_key is not null
  and l.email_key = ingest_stage_leads.email_key
"""
# "l.id + 0": a bare min(id) lets PostgreSQL walk the primary key filtering on phone (the whole
# table when nobody has the number); the expression makes it use the phone index instead.
RESOLVE_BY_PHONE = """
update ingest_stage_leads
set lead_id = (select min(l.id + 0) from leads l where l.phone_e164 = ingest_stage_leads.phone_e164)
where lead_id is null and email_key is null and phone_e164 is not null
"""
RESOLVE_BY_EXTERNAL_ID = """
update ingest_stage_leads set lead_id = l.id
from leads l
where ingest_stage_leads.lead_id is null and ingest_stage_leads.email_key is null
  and ingest_stage_leads.external_id is not null
  and l.external_source = ingest_stage_leads.external_source and l.external_id = ingest_stage_leads.external_id
"""
MARK_KNOWN = "update ingest_stage_leads set is_new = false where lead_id is not null"
INSERT_NEW_LEADS = """
insert into leads (email, email_key, email_domain, first_name, last_name, company, job_title, phone, phone_e164,
                   country, external_source, external_id, original_source, lifecycle_stage, first_seen_at,
                   last_seen_at, created_at, updated_at)
select email, email_key, email_domain, first_name, last_name, company, job_title, phone, phone_e164,
       country, external_source, external_id, original_source, 'lead', first_seen_at, last_seen_at, :now, :now
from ingest_stage_leads
where lead_id is null
on conflict do nothing
"""
MARK_NEW = "update ingest_stage_leads set is_new = true where lead_id is not null and is_new is null"
# Blanks are filled; held values stay. Seen-at times widen to cover the new arrivals.
FILL_KNOWN_LEADS = """
update leads set
    email = coalesce(leads.email, s.email),
    email_key = coalesce(leads.email_key, s.email_key),
    email_domain = coalesce(leads.email_domain, s.email_domain),
    first_name = coalesce(nullif(leads.first_name, ''), s.first_name),
    last_name = coalesce(nullif(leads.last_name, ''), s.last_name),
    company = coalesce(nullif(leads.company, ''), s.company),
    job_title = coalesce(nullif(leads.job_title, ''), s.job_title),
    phone = coalesce(nullif(leads.phone, ''), s.phone),
    phone_e164 = coalesce(leads.phone_e164, s.phone_e164),
    country = coalesce(leads.country, s.country),
    original_source = coalesce(leads.original_source, s.original_source),
    first_seen_at = case when leads.first_seen_at is null or s.first_seen_at < leads.first_seen_at
                         then s.first_seen_at else leads.first_seen_at end,
    last_seen_at = case when leads.last_seen_at is null or s.last_seen_at > leads.last_seen_at
                        then s.last_seen_at else leads.last_seen_at end,
    updated_at = :now
from ingest_stage_leads s
where s.lead_id = leads.id and s.is_new = false and leads.erased_at is null
"""
READ_STAGE = "select match_key, lead_id, is_new from ingest_stage_leads"
# PostgreSQL: people with an email key in one statement (insert, or fill blanks), ids and "was new" returned.
UPSERT_BY_EMAIL_PG = """
insert into leads as l (email, email_key, email_domain, first_name, last_name, company, job_title, phone, phone_e164,
                        country, original_source, lifecycle_stage, first_seen_at, last_seen_at, created_at, updated_at)
select email, email_key, email_domain, first_name, last_name, company, job_title, phone, phone_e164,
       country, original_source, 'lead', first_seen_at, last_seen_at, :now, :now
from ingest_stage_leads
where email_key is not null
on conflict (email_key) do update set
    first_name = coalesce(nullif(l.first_name, ''), excluded.first_name),
    last_name = coalesce(nullif(l.last_name, ''), excluded.last_name),
    company = coalesce(nullif(l.company, ''), excluded.company),
    job_title = coalesce(nullif(l.job_title, ''), excluded.job_title),
    phone = coalesce(nullif(l.phone, ''), excluded.phone),
    phone_e164 = coalesce(l.phone_e164, excluded.phone_e164),
    country = coalesce(l.country, excluded.country),
    original_source = coalesce(l.original_source, excluded.original_source),
    first_seen_at = least(l.first_seen_at, excluded.first_seen_at),
    last_seen_at = greatest(l.last_seen_at, excluded.last_seen_at),
    updated_at = excluded.updated_at
where l.erased_at is null
returning l.email_key, l.id, (l.xmax = 0) as is_new
"""
DROP_EMAIL_ROWS = "delete from ingest_stage_leads where email_key is not null"
# Files and the web form carry consent; an import never overrides a status a person already has,
# except to record a refusal, so an old list cannot re-subscribe someone who opted out.
CREATE_CONSENT_STAGE = """
create temporary table if not exists ingest_stage_consents (
    lead_id bigint, status varchar(20), legal_basis varchar(40), source varchar(120),
    wording_version varchar(60), client_ip varchar(45), recorded_at {ts}, always boolean
)
"""
CLEAR_CONSENT_STAGE = "delete from ingest_stage_consents"
INSERT_CONSENTS = """
insert into consents (lead_id, channel, status, legal_basis, source, wording_version, client_ip, recorded_at)
select s.lead_id, 'email', s.status, s.legal_basis, s.source, s.wording_version, s.client_ip, s.recorded_at
from ingest_stage_consents s
where s.always or s.status in ('denied', 'withdrawn')
   or not exists (select 1 from consents c where c.lead_id = s.lead_id and c.channel = 'email')
"""
INSERT_SUPPRESSION = """
insert into suppressions (email_hash, reason, scope, source, detail, created_at)
values (:email_hash, 'do_not_email', 'all', :source, :detail, :now)
on conflict do nothing
"""
INSERT_TOUCHPOINT = """
insert into touchpoints (lead_id, occurred_at, channel, touch_type, source, campaign, utm_source, utm_medium,
                         utm_campaign, utm_term, utm_content, page_url, detail, source_ref, scored, created_at)
values (:lead_id, :occurred_at, :channel, :touch_type, :source, :campaign, :utm_source, :utm_medium,
        :utm_campaign, :utm_term, :utm_content, :page_url, :detail, :source_ref, :scored, :created_at)
on conflict do nothing
"""


class AccountingError(RuntimeError):
    """Rows in did not equal inserted + updated + rejected + duplicates: something was lost or counted twice."""


@dataclass
class Counts:
    rows_in: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: int = 0
    duplicates: int = 0

    def add(self, other: Counts) -> None:
        for key, value in asdict(other).items():
            setattr(self, key, getattr(self, key) + value)

    def count(self, outcome: str, n: int = 1) -> None:
        attr = "duplicates" if outcome == "duplicate" else outcome
        setattr(self, attr, getattr(self, attr) + n)

    @property
    def arrived(self) -> int:
        return self.inserted + self.updated

    def check(self, what: str) -> None:
        total = self.inserted + self.updated + self.rejected + self.duplicates
        if total != self.rows_in:
            raise AccountingError(
                f"{what}: {self.rows_in} rows in but inserted {self.inserted} + updated {self.updated} + "
                f"rejected {self.rejected} + duplicates {self.duplicates} = {total}"
            )

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Arrival:
    """What every row of one batch shares: where it came from and how it counts."""

    source: str
    channel: str  # schema.CHANNELS
    touch_type: str  # schema.TOUCH_TYPES
    campaign: str | None = None
    consent_status: str | None = None  # the source's default when no column says
    legal_basis: str | None = None
    wording_version: str | None = None
    consent_always: bool = False  # web-form opt-ins are appended even when a status exists
    source_file: str | None = None


def _is_pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def db_time(conn: Connection, value: datetime | pd.Timestamp | None) -> Any:
    """A UTC time as this backend's raw SQL wants it (SQLite: the text format SQLAlchemy stores)."""
    if value is None or value is pd.NaT:
        return None
    value = value.astimezone(UTC)
    if _is_pg(conn):
        return value
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _time_column(conn: Connection, series: pd.Series) -> pd.Series:
    ts = pd.to_datetime(series, utc=True)
    if _is_pg(conn):
        # Text COPY reads: to_csv formats aware timestamps one value at a time (~6 us each),
        # naive ones in one vectorized pass, so the UTC offset is written as a suffix.
        naive = ts.dt.tz_localize(None)
        return (naive.astype(str) + "+00").where(naive.notna(), None)
    return ts.dt.strftime("%Y-%m-%d %H:%M:%S.%f")


def _copy_frame(conn: Connection, table: str, frame: pd.DataFrame) -> None:
    """Bulk-load a frame: COPY on PostgreSQL, executemany on SQLite. Values are data, never SQL."""
    if frame.empty:
        return
    columns = list(frame.columns)
    if _is_pg(conn):
        buf = io.StringIO()
        frame.to_csv(buf, index=False, header=False)
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"copy {table} ({', '.join(columns)}) from stdin with (format csv)") as copy:
            copy.write(buf.getvalue())
        return
    placeholders = ", ".join("?" for _ in columns)
    rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None)
    conn.connection.driver_connection.cursor().executemany(
        f"insert into {table} ({', '.join(columns)}) values ({placeholders})", list(rows)  # noqa: S608 - names are ours
    )


def _result_frame(result, columns: list[str]) -> pd.DataFrame:
    """Rows as a frame; plain tuples, because pandas probes each SQLAlchemy Row for attributes (slow)."""
    return pd.DataFrame([tuple(row) for row in result.all()], columns=columns)


def ensure_stage(conn: Connection) -> None:
    ts = "timestamptz" if _is_pg(conn) else "varchar(40)"
    conn.execute(text(CREATE_STAGE.format(ts=ts)))
    conn.execute(text(CREATE_CONSENT_STAGE.format(ts=ts)))


def _one_row_per_person(rows: pd.DataFrame) -> pd.DataFrame:
    """One staged row per match_key: the first non-blank value of each field, the earliest and latest times.

    Most chunks repeat few people, so only the repeated keys go through the (slower) group-by.
    """
    repeated = rows["match_key"].duplicated(keep=False)
    single = rows.loc[~repeated, ["match_key", *LEAD_COLUMNS]].copy()
    single["first_seen_at"] = rows.loc[~repeated, "occurred_at"]
    single["last_seen_at"] = single["first_seen_at"]
    if not repeated.any():
        return single
    grouped = rows[repeated].groupby("match_key", sort=False)
    multi = grouped[list(LEAD_COLUMNS)].first()
    multi["first_seen_at"] = grouped["occurred_at"].min()
    multi["last_seen_at"] = grouped["occurred_at"].max()
    return pd.concat([single, multi.reset_index()], ignore_index=True)


def upsert_leads(conn: Connection, rows: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Create or update one lead per match_key in ``rows``; returns match_key -> lead_id, is_new."""
    with timed("stage"):
        ensure_stage(conn)
        conn.execute(text(TRUNCATE_STAGE if _is_pg(conn) else CLEAR_STAGE))
        people = _one_row_per_person(rows)
        people["first_seen_at"] = _time_column(conn, people["first_seen_at"])
        people["last_seen_at"] = _time_column(conn, people["last_seen_at"])
        _copy_frame(conn, "ingest_stage_leads", people[list(STAGE_COLUMNS)])
    with timed("upsert_leads"):
        when = {"now": db_time(conn, now)}
        by_email = None
        if _is_pg(conn):
            by_email = _result_frame(conn.execute(text(UPSERT_BY_EMAIL_PG), when), ["email_key", "lead_id", "is_new"])
            by_email["match_key"] = "e:" + by_email["email_key"]
            by_email = by_email.drop(columns="email_key")
            conn.execute(text(DROP_EMAIL_ROWS))  # the rest (phone or external id only) takes the general path
        for statement in (RESOLVE_BY_EMAIL, RESOLVE_BY_PHONE, RESOLVE_BY_EXTERNAL_ID, MARK_KNOWN):
            conn.execute(text(statement))
        conn.execute(text(INSERT_NEW_LEADS), when)
        for statement in (RESOLVE_BY_EMAIL, RESOLVE_BY_PHONE, RESOLVE_BY_EXTERNAL_ID, MARK_NEW):
            conn.execute(text(statement))
        conn.execute(text(FILL_KNOWN_LEADS), when)
        resolved = _result_frame(conn.execute(text(READ_STAGE)), ["match_key", "lead_id", "is_new"])
        if by_email is not None and not by_email.empty:
            resolved = by_email if resolved.empty else pd.concat([by_email, resolved], ignore_index=True)
    return resolved.set_index("match_key")


def write_arrivals(conn: Connection, rows: pd.DataFrame, arrival: Arrival, now: datetime) -> pd.Series:
    """Write validated rows (normalized frame plus ``source_ref``, ``detail`` and optional ``client_ip``).

    Returns the outcome per row: ``inserted`` for the first row that created a
    person, ``updated`` for every other row that reached a person, ``rejected``
    (with the reason in ``rows.attrs['conflicts']``) for a row whose person could
    not be resolved.
    """
    if rows.empty:
        return pd.Series(dtype=object)
    resolved = upsert_leads(conn, rows, now)
    lead_id = rows["match_key"].map(resolved["lead_id"])
    is_new = rows["match_key"].map(resolved["is_new"]).fillna(False).astype(bool)
    first_of_key = ~rows["match_key"].duplicated()
    outcome = pd.Series("updated", index=rows.index, dtype=object)
    outcome[is_new & first_of_key] = "inserted"
    unresolved = lead_id.isna()
    outcome[unresolved] = "rejected"
    with timed("touchpoints"):
        ok = rows[~unresolved].copy()
        ok["lead_id"] = lead_id[~unresolved].astype("int64")
        _write_touchpoints(conn, ok, arrival, now)
        _write_consents(conn, ok, arrival)
        _write_suppressions(conn, ok, arrival, now)
    return outcome


def _write_touchpoints(conn: Connection, rows: pd.DataFrame, arrival: Arrival, now: datetime) -> None:
    if rows.empty:
        return
    campaign = rows["campaign"].fillna(arrival.campaign or "") if arrival.campaign else rows["campaign"]
    campaign = campaign.where(campaign.notna() & (campaign != ""), rows["utm_campaign"])
    touches = pd.DataFrame({
        "lead_id": rows["lead_id"],
        "occurred_at": _time_column(conn, rows["occurred_at"]),
        "channel": arrival.channel,
        "touch_type": arrival.touch_type,
        "source": arrival.source,
        "campaign": campaign.str.slice(0, 255),
        "utm_source": rows["utm_source"],
        "utm_medium": rows["utm_medium"],
        "utm_campaign": rows["utm_campaign"],
        "utm_term": rows["utm_term"],
        "utm_content": rows["utm_content"],
        "page_url": rows["page_url"],
        "detail": rows["detail"],
        "source_ref": rows["source_ref"],
        "scored": True,
        "created_at": db_time(conn, now) if not _is_pg(conn) else now.isoformat(),
    })
    if _is_pg(conn) and arrival.channel == "file_import":
        # A file is claimed by content hash and written in one transaction, so its refs are new: plain COPY.
        _copy_frame(conn, "touchpoints", touches)
        return
    records = touches.astype(object).where(touches.notna(), None).to_dict("records")
    if _is_pg(conn):
        for rec in records:
            rec["created_at"] = now
    conn.execute(text(INSERT_TOUCHPOINT), records)


def _write_consents(conn: Connection, rows: pd.DataFrame, arrival: Arrival) -> None:
    status = rows["consent_status"]
    if arrival.consent_status:
        status = status.fillna(arrival.consent_status)
    has = status.notna()
    if not has.any():
        return
    picked = rows[has]
    basis = picked["legal_basis"]
    if arrival.legal_basis:
        basis = basis.fillna(arrival.legal_basis)
    # A person saying "yes" in a column is consent; saying "no" needs no basis.
    basis = basis.where(basis.notna() | (status[has] != "granted"), "consent")
    ip = picked["client_ip"] if "client_ip" in picked else pd.Series(None, index=picked.index, dtype=object)
    stage = pd.DataFrame({
        "lead_id": picked["lead_id"],
        "status": status[has],
        "legal_basis": basis,
        "source": arrival.source,
        "wording_version": arrival.wording_version,
        "client_ip": ip,
        "recorded_at": _time_column(conn, picked["occurred_at"]),
        "always": arrival.consent_always,
    }).drop_duplicates(subset=["lead_id", "status"], keep="first")
    conn.execute(text("truncate ingest_stage_consents" if _is_pg(conn) else CLEAR_CONSENT_STAGE))
    _copy_frame(conn, "ingest_stage_consents", stage)
    conn.execute(text(INSERT_CONSENTS))


def _write_suppressions(conn: Connection, rows: pd.DataFrame, arrival: Arrival, now: datetime) -> None:
    dne = rows[rows["do_not_email"] & rows["email_key"].notna()]
    if dne.empty:
        return
    detail = f"'Do Not Email' in {arrival.source_file}" if arrival.source_file else f"'Do Not Email' from {arrival.source}"
    params = [
        {"email_hash": hash_key(key), "source": arrival.source, "detail": detail[:500], "now": db_time(conn, now)}
        for key in dne["email_key"].unique()
    ]
    conn.execute(text(INSERT_SUPPRESSION), params)


def write_rejects(conn: Connection, source: str, source_file: str | None, rejects: list[tuple[int | None, str, dict]],
                  now: datetime) -> None:
    """Set rows aside with their reason and the raw row exactly as it arrived."""
    if not rejects:
        return
    conn.execute(
        schema.ingest_rejects.insert(),
        [
            {"source": source, "source_file": source_file, "line_number": line, "reason": reason[:500],
             "raw": raw, "received_at": now}
            for line, reason, raw in rejects
        ],
    )


def detail_json(**values: Any) -> str:
    return json.dumps({k: v for k, v in values.items() if v is not None}, separators=(",", ":"), ensure_ascii=False)
