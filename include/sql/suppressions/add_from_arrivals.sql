-- The "Do Not Email" flags of a staged ingestion batch: one do_not_email suppression (scope all) per address
-- hash of a resolved arrival; one already there stays as it is (the table keeps the first word).
insert into suppressions (email_hash, reason, scope, source, detail, created_at)
select distinct a.dne_hash, 'do_not_email', 'all', :source, :detail, :now
from ingest_arrivals as a
join ingest_people_resolved as p on p.match_key = a.match_key
where a.dne_hash is not null and p.lead_id is not null
on conflict do nothing
