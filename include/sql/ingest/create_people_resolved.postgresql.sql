-- Every resolved person with the lead it resolved to (a temporary view over the stage): on PostgreSQL
-- ingest_resolved holds every answer (the email upsert's, then the rest's, see collect_resolved), so
-- the statements that follow join the arrivals to this narrow table instead of the wide people rows.
-- A person the upsert left unresolved (an erased lead) has no row: read it with a left join.
create or replace temporary view ingest_people_resolved as
select match_key, lead_id, is_new
from ingest_resolved
