"""Company facts typed in an export or a form, kept on the lead with their source.

Industry, employee count or band, annual revenue or band: what a person (or a
CRM export) says about their company. They go on the lead's own columns, not on
the account, because the account belongs to the email domain and is filled by
enrichment; scoring reads the lead's typed value first and the account's
enriched value only where nothing was typed, and enrichment never writes these
columns. As with every lead field, a value already held is never replaced by
what a later list says: only blanks are filled. Each value filled is recorded in
``leads.field_sources`` as ``{"source": "typed", "confidence": 1.0, "origin":
<the ingestion source>}``.

The facts of a batch are staged in their own temporary table, keyed like the
people of the stage (``funnelflow.ingest.stage``), and written after the people
are resolved; a batch without any company column stages nothing and costs nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text

from funnelflow.ingest.rows import COMPANY_COLUMNS, csv_text
from funnelflow.ingest.stage import is_pg, load_csv

__all__ = ["COMPANY_COLUMNS", "write_company_facts", "write_company_rows"]

_CREATE = """
create temporary table if not exists ingest_company (
    match_key varchar(400) not null, industry varchar(120), employee_count integer, employee_band varchar(40),
    annual_revenue bigint, revenue_band varchar(40)
)
"""
# Fill each resolved lead's blank facts from the staged ones and record their source. Both dialects read the
# old row in SET, so "was blank" is tested against the value before this statement. PostgreSQL: null keys are
# stripped before the merge. SQLite: json_patch would delete a key patched with null, so each fact patches with
# an object or with {}.
_UPDATE_PG = """
with facts as (
    select coalesce(r.lead_id, p.lead_id) as lead_id, c.industry, c.employee_count, c.employee_band,
           c.annual_revenue, c.revenue_band
    from ingest_company c
    join ingest_people p on p.match_key = c.match_key
    left join ingest_resolved r on r.match_key = c.match_key
)
update leads set
    industry = coalesce(leads.industry, f.industry),
    employee_count = coalesce(leads.employee_count, f.employee_count),
    employee_band = coalesce(leads.employee_band, f.employee_band),
    annual_revenue = coalesce(leads.annual_revenue, f.annual_revenue),
    revenue_band = coalesce(leads.revenue_band, f.revenue_band),
    field_sources = coalesce(leads.field_sources, '{}'::jsonb) || jsonb_strip_nulls(jsonb_build_object(
        'industry', case when leads.industry is null and f.industry is not null then cast(:typed as jsonb) end,
        'employee_count',
        case when leads.employee_count is null and f.employee_count is not null then cast(:typed as jsonb) end,
        'employee_band',
        case when leads.employee_band is null and f.employee_band is not null then cast(:typed as jsonb) end,
        'annual_revenue',
        case when leads.annual_revenue is null and f.annual_revenue is not null then cast(:typed as jsonb) end,
        'revenue_band',
        case when leads.revenue_band is null and f.revenue_band is not null then cast(:typed as jsonb) end
    ))
from facts f
where f.lead_id = leads.id and leads.erased_at is null
  and (   (leads.industry is null and f.industry is not null)
       or (leads.employee_count is null and f.employee_count is not null)
       or (leads.employee_band is null and f.employee_band is not null)
       or (leads.annual_revenue is null and f.annual_revenue is not null)
       or (leads.revenue_band is null and f.revenue_band is not null))
"""
_UPDATE_SQLITE = """
with facts as (
    select coalesce(r.lead_id, p.lead_id) as lead_id, c.industry, c.employee_count, c.employee_band,
           c.annual_revenue, c.revenue_band
    from ingest_company c
    join ingest_people p on p.match_key = c.match_key
    left join ingest_resolved r on r.match_key = c.match_key
)
update leads set
    industry = coalesce(leads.industry, f.industry),
    employee_count = coalesce(leads.employee_count, f.employee_count),
    employee_band = coalesce(leads.employee_band, f.employee_band),
    annual_revenue = coalesce(leads.annual_revenue, f.annual_revenue),
    revenue_band = coalesce(leads.revenue_band, f.revenue_band),
    field_sources = json_patch(json_patch(json_patch(json_patch(json_patch(coalesce(leads.field_sources, '{}'),
        case when leads.industry is null and f.industry is not null
             then json_object('industry', json(:typed)) else '{}' end),
        case when leads.employee_count is null and f.employee_count is not null
             then json_object('employee_count', json(:typed)) else '{}' end),
        case when leads.employee_band is null and f.employee_band is not null
             then json_object('employee_band', json(:typed)) else '{}' end),
        case when leads.annual_revenue is null and f.annual_revenue is not null
             then json_object('annual_revenue', json(:typed)) else '{}' end),
        case when leads.revenue_band is null and f.revenue_band is not null
             then json_object('revenue_band', json(:typed)) else '{}' end)
from facts f
where f.lead_id = leads.id and leads.erased_at is null
  and (   (leads.industry is null and f.industry is not null)
       or (leads.employee_count is null and f.employee_count is not null)
       or (leads.employee_band is null and f.employee_band is not null)
       or (leads.annual_revenue is null and f.annual_revenue is not null)
       or (leads.revenue_band is null and f.revenue_band is not null))
"""


def write_company_facts(conn: Connection, data: str, source: str) -> int:
    """Fill the blank company facts of the batch's resolved leads from ``COMPANY_COLUMNS`` CSV text.

    Call after ``stage.apply_batch`` (the people are resolved), in the same transaction. Returns the leads
    that got at least one fact.
    """
    if not data:
        return 0
    conn.execute(text(_CREATE))
    conn.execute(text("delete from ingest_company"))
    load_csv(conn, "ingest_company", COMPANY_COLUMNS, data)
    typed = json.dumps({"source": "typed", "confidence": 1.0, "origin": source})
    sql = _UPDATE_PG if is_pg(conn) else _UPDATE_SQLITE
    return conn.execute(text(sql), {"typed": typed}).rowcount


def write_company_rows(conn: Connection, rows: Sequence[Sequence[Any]], source: str) -> int:
    """``write_company_facts`` for rows already in Python (the web form, ad platforms, replays)."""
    return write_company_facts(conn, csv_text(rows), source) if rows else 0
