-- The batch's counts without reading rows back: a lead created in this batch is one "inserted"; every other
-- resolved arrival is "updated"; arrivals whose person could not be resolved are set aside. On PostgreSQL
-- the answers are in ingest_resolved (a person the upsert left unresolved has no row there).
select count(p.lead_id) as resolved,
       count(*) - count(p.lead_id) as unresolved,
       count(distinct case when p.is_new then p.lead_id end) as created
from ingest_arrivals as a
left join ingest_people_resolved as p on p.match_key = a.match_key
