-- PostgreSQL: the answers of the general path (people without an email key, resolved in ingest_people
-- itself) join the email upsert's in ingest_resolved, so every later statement reads one narrow table.
insert into ingest_resolved (match_key, lead_id, is_new)
select match_key, lead_id, is_new
from ingest_people
where email_key is null
