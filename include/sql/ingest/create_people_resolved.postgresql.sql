-- Every staged person with the lead it resolved to (a temporary view over the stage tables): PostgreSQL's email
-- upsert answers in ingest_resolved, the general path in the people rows themselves.
create or replace temporary view ingest_people_resolved as
select p.match_key, coalesce(r.lead_id, p.lead_id) as lead_id, coalesce(r.is_new, p.is_new) as is_new, p.arrivals
from ingest_people as p
left join ingest_resolved as r on r.match_key = p.match_key
