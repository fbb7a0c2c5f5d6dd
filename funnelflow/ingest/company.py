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

from sqlalchemy import Connection, text

from funnelflow import sql
from funnelflow.ingest.rows import COMPANY_COLUMNS
from funnelflow.ingest.stage import StageData, load_stage

__all__ = ["COMPANY_COLUMNS", "write_company_facts"]


def write_company_facts(conn: Connection, data: StageData, source: str) -> int:
    """Fill the blank company facts of the batch's resolved leads from ``COMPANY_COLUMNS`` rows (the web
    form, ad platforms, replays) or, on PostgreSQL, COPY's binary data of them (the file worker's; see
    ``stage.load_stage``).

    Call after ``stage.apply_batch`` (the people are resolved), in the same transaction. Returns the leads
    that got at least one fact.
    """
    if not data:
        return 0
    conn.execute(sql.load("ingest/create_stage_company"))
    conn.execute(text("delete from ingest_company"))
    load_stage(conn, "ingest_company", data)
    typed = json.dumps({"source": "typed", "confidence": 1.0, "origin": source})
    return conn.execute(sql.load("ingest/fill_company_facts", conn.dialect.name), {"typed": typed}).rowcount
