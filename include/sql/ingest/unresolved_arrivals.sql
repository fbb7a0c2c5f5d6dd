-- The positions of the arrivals whose person no single lead could take (set aside with their reason). A left
-- join: on PostgreSQL a person the email upsert left unresolved has no row in the view.
select a.pos
from ingest_arrivals as a
left join ingest_people_resolved as p on p.match_key = a.match_key
where p.lead_id is null
order by a.pos
