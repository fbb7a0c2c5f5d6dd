"""The ingestion stage: a batch of arrivals and the people they name, written to the CRM in set-based SQL.

Every source ends here. A batch is two temporary tables: ``ingest_arrivals``
(one row per arrival: its touchpoint, consent and do-not-email facts) and
``ingest_people`` (one row per ``match_key`` with the first non-blank value of
each lead field and the earliest and latest arrival time). Both are built in
plain Python (``funnelflow.ingest.rows``), for files by the worker process, off
the database's critical path. ``apply_batch`` then resolves and upserts the
people, inserts the touchpoints, consents and suppressions, and returns the
counts; nothing is read back row by row. Filling only blanks is how "never
overwrite better data with worse" is kept. The caller owns the transaction.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, text

from funnelflow.db.helpers import copy_csv, csv_text, is_postgres
from funnelflow.ingest.rows import ARRIVAL_COLUMNS, PEOPLE_COLUMNS, time_text
from funnelflow.ingest.timing import timed

__all__ = [
    "ARRIVAL_COLUMNS",
    "PEOPLE_COLUMNS",
    "Arrival",
    "BatchResult",
    "apply_batch",
    "batch_outcomes",
    "load_csv",
    "load_rows",
    "start_batch",
]

_CREATE_PEOPLE = """
create temporary table if not exists ingest_people (
    match_key varchar(400) not null,
    email varchar(320), email_key varchar(320), email_domain varchar(255), first_name varchar(120),
    last_name varchar(120), company varchar(255), job_title varchar(255), phone varchar(64),
    phone_e164 varchar(20), country varchar(2), external_source varchar(60), external_id varchar(255),
    original_source varchar(60), first_seen_at {ts}, last_seen_at {ts}, arrivals integer, first_pos bigint,
    lead_id bigint, is_new boolean
)
"""
# PostgreSQL's email upsert writes its answers here: a narrow insert, not an update of the wide people rows.
_CREATE_RESOLVED = """
create temporary table if not exists ingest_resolved (match_key varchar(400), lead_id bigint, is_new boolean)
"""
_CREATE_ARRIVALS = """
create temporary table if not exists ingest_arrivals (
    pos bigint, match_key varchar(400), occurred_at {ts}, campaign varchar(255), utm_source varchar(255),
    utm_medium varchar(255), utm_campaign varchar(255), utm_term varchar(255), utm_content varchar(255),
    page_url text, detail text, source_ref varchar(255), consent_status varchar(20), legal_basis varchar(40),
    client_ip varchar(45), dne_hash varchar(64)
)
"""

# "Never overwrite better data with worse": a held value stays, a blank is filled (an empty string counts as
# blank for the free-text fields), and the seen-at times widen. One rule for both statements that update leads.
_BLANK_IF_EMPTY = ("first_name", "last_name", "company", "job_title", "phone")
_BLANK_IF_NULL = ("phone_e164", "country", "original_source")


def _fill_blanks(held: str, new: str, *, identity: bool) -> str:
    """The SET list that fills ``held``'s blanks from ``new`` (``identity``: the email columns too)."""
    nulls = (("email", "email_key", "email_domain") if identity else ()) + _BLANK_IF_NULL
    sets = [f"{c} = coalesce(nullif({held}.{c}, ''), {new}.{c})" for c in _BLANK_IF_EMPTY]
    sets += [f"{c} = coalesce({held}.{c}, {new}.{c})" for c in nulls]
    sets += [
        f"first_seen_at = case when {held}.first_seen_at is null or {new}.first_seen_at < {held}.first_seen_at"
        f" then {new}.first_seen_at else {held}.first_seen_at end",
        f"last_seen_at = case when {held}.last_seen_at is null or {new}.last_seen_at > {held}.last_seen_at"
        f" then {new}.last_seen_at else {held}.last_seen_at end",
        "updated_at = :now",
    ]
    return ",\n".join("    " + line for line in sets)


# PostgreSQL: everyone with an email key in one statement (insert, or fill blanks), sorted by the key so the
# unique index is walked in order; "was new" is xmax = 0. An erased lead is neither updated nor returned.
_UPSERT_BY_EMAIL_PG = """
with upserted as (
    insert into leads as l (email, email_key, email_domain, first_name, last_name, company, job_title, phone,
                            phone_e164, country, original_source, lifecycle_stage, first_seen_at, last_seen_at,
                            created_at, updated_at)
    select email, email_key, email_domain, first_name, last_name, company, job_title, phone, phone_e164,
           country, original_source, 'lead', first_seen_at, last_seen_at, :now, :now
    from ingest_people
    where email_key is not null
    order by email_key
    on conflict (email_key) do update set
{fill_email_lead}
    where l.erased_at is null
    returning l.email_key, l.id, (l.xmax = 0) as is_new
)
insert into ingest_resolved (match_key, lead_id, is_new)
select 'e:' || email_key, id, is_new from upserted
""".replace("{fill_email_lead}", _fill_blanks("l", "excluded", identity=False))

# The general path (SQLite for everyone; PostgreSQL for people without an email key), run per ``{scope}``: known
# people by email key (never an erased lead); without an email, by phone (oldest lead with it); else by the
# source's id. Then insert the rest, resolve again, and fill the blanks of the known ones.
_RESOLVE_BY_EMAIL = """
update ingest_people
set lead_id = (select l.id from leads l where l.email_key = ingest_people.email_key and l.erased_at is null)
where {scope} lead_id is null and email_key is not null
"""
# "l.id + 0": a bare min(id) lets PostgreSQL walk the primary key filtering on phone (the whole
# table when nobody has the number); the expression makes it use the phone index instead.
_RESOLVE_BY_PHONE = """
update ingest_people
set lead_id = (select min(l.id + 0) from leads l where l.phone_e164 = ingest_people.phone_e164)
where {scope} lead_id is null and email_key is null and phone_e164 is not null
"""
_RESOLVE_BY_EXTERNAL_ID = """
update ingest_people
set lead_id = (select l.id from leads l where l.external_source = ingest_people.external_source
                                          and l.external_id = ingest_people.external_id)
where {scope} lead_id is null and email_key is null and external_id is not null
"""
_MARK_KNOWN = "update ingest_people set is_new = false where {scope} lead_id is not null and is_new is null"
_INSERT_NEW = """
insert into leads (email, email_key, email_domain, first_name, last_name, company, job_title, phone, phone_e164,
                   country, external_source, external_id, original_source, lifecycle_stage, first_seen_at,
                   last_seen_at, created_at, updated_at)
select email, email_key, email_domain, first_name, last_name, company, job_title, phone, phone_e164,
       country, external_source, external_id, original_source, 'lead', first_seen_at, last_seen_at, :now, :now
from ingest_people
where {scope} lead_id is null
order by first_pos
on conflict do nothing
"""
_MARK_NEW = "update ingest_people set is_new = true where {scope} lead_id is not null and is_new is null"
_FILL_KNOWN = """
update leads set
{fill_lead}
from ingest_people s
where {scope_s} s.lead_id = leads.id and s.is_new = false and leads.erased_at is null
""".replace("{fill_lead}", _fill_blanks("leads", "s", identity=True))

# Every staged person with the lead it resolved to: PostgreSQL's email upsert answers in ingest_resolved,
# the general path in the people rows themselves.
_PEOPLE = """(select p.match_key, coalesce(r.lead_id, p.lead_id) as lead_id, coalesce(r.is_new, p.is_new) as is_new,
         p.arrivals
  from ingest_people p left join ingest_resolved r on r.match_key = p.match_key) p"""

# One touchpoint per resolved arrival, ids in arrival order. A file's arrivals carry no source_ref or detail:
# both are made here from the line number (:ref_prefix + the zero-padded line; the archived file and line).
# The campaign is the row's, else the source's, else the UTM campaign.
_INSERT_TOUCHPOINTS = """
insert into touchpoints (lead_id, occurred_at, channel, touch_type, source, campaign, utm_source, utm_medium,
                         utm_campaign, utm_term, utm_content, page_url, detail, source_ref, scored, created_at)
select p.lead_id, a.occurred_at, :channel, :touch_type, :source,
       substr(coalesce(a.campaign, :campaign, a.utm_campaign), 1, 255), a.utm_source, a.utm_medium,
       a.utm_campaign, a.utm_term, a.utm_content, a.page_url, {detail}, {source_ref}, true, :now
from ingest_arrivals a join {people} on p.match_key = a.match_key
where p.lead_id is not null
order by a.pos
{conflict}
"""
# An import never overrides a consent status a person already has, except to record a refusal, so an old
# list cannot re-subscribe someone who opted out; web-form opt-ins ("always") are appended. One row per
# person and status: the first arrival's.
_INSERT_CONSENTS = """
insert into consents (lead_id, channel, status, legal_basis, source, wording_version, client_ip, recorded_at)
select lead_id, 'email', status, legal_basis, :source, :wording_version, client_ip, occurred_at
from (
    select p.lead_id, coalesce(a.consent_status, :default_status) as status,
           coalesce(a.legal_basis, :default_basis,
                    case when coalesce(a.consent_status, :default_status) = 'granted' then 'consent' end) as legal_basis,
           a.client_ip, a.occurred_at,
           row_number() over (partition by p.lead_id, coalesce(a.consent_status, :default_status) order by a.pos) as nth
    from ingest_arrivals a join {people} on p.match_key = a.match_key
    where p.lead_id is not null and coalesce(a.consent_status, :default_status) is not null
) s
where nth = 1
  and (:always or status in ('denied', 'withdrawn')
       or not exists (select 1 from consents c where c.lead_id = s.lead_id and c.channel = 'email'))
"""
_INSERT_SUPPRESSIONS = """
insert into suppressions (email_hash, reason, scope, source, detail, created_at)
select distinct a.dne_hash, 'do_not_email', 'all', :source, :detail, :now
from ingest_arrivals a join {people} on p.match_key = a.match_key
where a.dne_hash is not null and p.lead_id is not null
on conflict do nothing
"""
# Counts without reading rows back: a lead created in this batch is one "inserted"; every other resolved
# arrival is "updated"; arrivals whose person could not be resolved are set aside.
_COUNT = """
select coalesce(sum(case when lead_id is not null then arrivals else 0 end), 0),
       coalesce(sum(case when lead_id is null then arrivals else 0 end), 0),
       count(distinct case when is_new then lead_id end)
from {people}
"""
_UNRESOLVED = """
select a.pos from ingest_arrivals a join {people} on p.match_key = a.match_key
where p.lead_id is null order by a.pos
"""
# Per-arrival outcome (small batches: the web form, ad platforms, replays).
_OUTCOMES = """
select a.pos, p.lead_id, p.is_new,
       min(a.pos) over (partition by p.lead_id) as first_pos_of_lead,
       max(case when p.is_new then 1 else 0 end) over (partition by p.lead_id) as lead_created
from ingest_arrivals a join {people} on p.match_key = a.match_key
"""


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


@dataclass
class BatchResult:
    inserted: int = 0
    updated: int = 0
    unresolved: list[int] = field(default_factory=list)  # positions of arrivals no single lead could take


def start_batch(conn: Connection) -> None:
    """Create the stage tables for this connection if needed, and empty them."""
    ts = "timestamptz" if is_postgres(conn) else "varchar(40)"
    conn.execute(text(_CREATE_PEOPLE.format(ts=ts)))
    conn.execute(text(_CREATE_ARRIVALS.format(ts=ts)))
    conn.execute(text(_CREATE_RESOLVED))
    if is_postgres(conn):  # no dead rows piling up batch after batch
        conn.execute(text("truncate ingest_people, ingest_arrivals, ingest_resolved"))
    else:
        for table in ("ingest_people", "ingest_arrivals", "ingest_resolved"):
            conn.execute(text(f"delete from {table}"))  # noqa: S608 - names are ours


def load_csv(conn: Connection, table: str, columns: Sequence[str], data: str) -> None:
    """Bulk-load CSV text from ``csv_text``: COPY on PostgreSQL, executemany on SQLite. Values are data, never SQL."""
    if not data:
        return
    if is_postgres(conn):
        copy_csv(conn, table, columns, data)
        return
    rows = [[value if value != "" else None for value in row] for row in csv.reader(io.StringIO(data))]
    load_rows(conn, table, columns, rows)


def load_rows(conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    if not rows:
        return
    if is_postgres(conn):
        load_csv(conn, table, columns, csv_text(rows))
        return
    placeholders = ", ".join("?" for _ in columns)
    conn.connection.driver_connection.cursor().executemany(
        f"insert into {table} ({', '.join(columns)}) values ({placeholders})",  # noqa: S608 - names are ours
        rows,
    )


def apply_batch(
    conn: Connection, arrival: Arrival, now: datetime, *, ref_prefix: str | None = None
) -> BatchResult:
    """Write the staged batch: leads, touchpoints, consents, suppressions; returns the counts.

    ``ref_prefix`` (files): arrivals without a ``source_ref`` get ``ref_prefix``
    plus their zero-padded line, and a detail naming ``arrival.source_file``
    and the line. Those refs are new (the file was claimed by its content
    hash), so the touchpoints skip the conflict check.
    """
    pg = is_postgres(conn)
    when = now.astimezone(UTC) if pg else time_text(now, postgres=False)
    # People with an email key first (PostgreSQL: the upsert), then the rest, so a phone-only row can match a
    # lead an email row of the same batch has just created.
    scopes = ["email_key is null and"] if pg else ["email_key is not null and", "email_key is null and"]
    with timed("upsert_leads"):
        if pg:
            conn.execute(text(_UPSERT_BY_EMAIL_PG), {"now": when})
        for scope in scopes:
            for statement in (_RESOLVE_BY_EMAIL, _RESOLVE_BY_PHONE, _RESOLVE_BY_EXTERNAL_ID, _MARK_KNOWN):
                conn.execute(text(statement.format(scope=scope)))
            conn.execute(text(_INSERT_NEW.format(scope=scope)), {"now": when})
            for statement in (_RESOLVE_BY_EMAIL, _RESOLVE_BY_PHONE, _RESOLVE_BY_EXTERNAL_ID, _MARK_NEW):
                conn.execute(text(statement.format(scope=scope)))
            conn.execute(text(_FILL_KNOWN.format(scope_s="s." + scope)), {"now": when})
    with timed("touchpoints"):
        _write_touches(conn, arrival, when, pg, ref_prefix)
    with timed("consents"):
        _write_consents(conn, arrival, when)
    resolved, unresolved, created = conn.execute(text(_COUNT.format(people=_PEOPLE))).one()
    missing = [pos for (pos,) in conn.execute(text(_UNRESOLVED.format(people=_PEOPLE)))] if unresolved else []
    return BatchResult(inserted=int(created), updated=int(resolved) - int(created), unresolved=missing)


def _write_touches(conn: Connection, arrival: Arrival, when: Any, pg: bool, ref_prefix: str | None) -> None:
    """One touchpoint per resolved arrival."""
    padded = "lpad(cast(a.pos as text), 10, '0')" if pg else "printf('%010d', a.pos)"
    detail = """coalesce(a.detail, '{"file":' || :file_json || ',"line":' || a.pos || '}')"""
    touch_sql = _INSERT_TOUCHPOINTS.format(
        people=_PEOPLE,
        detail=f"cast({detail} as jsonb)" if pg else detail,
        source_ref=f"coalesce(a.source_ref, :ref_prefix || {padded})",
        conflict="" if ref_prefix and pg else "on conflict do nothing",
    )
    conn.execute(
        text(touch_sql),
        {
            "channel": arrival.channel,
            "touch_type": arrival.touch_type,
            "source": arrival.source,
            "campaign": arrival.campaign,
            "now": when,
            "ref_prefix": ref_prefix,
            "file_json": json.dumps(arrival.source_file),
        },
    )


def _write_consents(conn: Connection, arrival: Arrival, when: Any) -> None:
    """Consents and do-not-email suppressions of the resolved arrivals."""
    conn.execute(
        text(_INSERT_CONSENTS.format(people=_PEOPLE)),
        {
            "source": arrival.source,
            "wording_version": arrival.wording_version,
            "always": arrival.consent_always,
            "default_status": arrival.consent_status,
            "default_basis": arrival.legal_basis,
        },
    )
    detail = (
        f"'Do Not Email' in {arrival.source_file}"
        if arrival.source_file
        else f"'Do Not Email' from {arrival.source}"
    )
    conn.execute(
        text(_INSERT_SUPPRESSIONS.format(people=_PEOPLE)),
        {"source": arrival.source, "detail": detail[:500], "now": when},
    )


def batch_outcomes(conn: Connection) -> dict[int, str]:
    """Outcome per staged arrival position: inserted (first arrival of a lead this batch created), updated, rejected."""
    out: dict[int, str] = {}
    for pos, lead_id, _is_new, first_pos_of_lead, lead_created in conn.execute(
        text(_OUTCOMES.format(people=_PEOPLE))
    ):
        if lead_id is None:
            out[pos] = "rejected"
        elif lead_created and pos == first_pos_of_lead:
            out[pos] = "inserted"
        else:
            out[pos] = "updated"
    return out
