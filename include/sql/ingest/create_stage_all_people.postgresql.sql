-- PostgreSQL: the batch's people as they are copied in (temporary), laid out like ingest_people. The email
-- upsert reads them here; those without an email key are put aside into ingest_people (set_aside_people),
-- so the lookups by phone or the source's id, statement after statement, scan only those few.
create temporary table if not exists ingest_all_people (like ingest_people)
