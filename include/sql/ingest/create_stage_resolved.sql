-- PostgreSQL's email upsert writes its answers here (temporary): a narrow insert, not an update of the wide
-- people rows. The general path answers in ingest_people itself (on PostgreSQL collect_resolved then copies
-- those answers here, so it holds every person's).
create temporary table if not exists ingest_resolved (match_key varchar(400), lead_id bigint, is_new boolean)
