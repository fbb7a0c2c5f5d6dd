-- People without an email, by phone: the oldest lead with the number. "l.id + 0": a bare min(id) lets
-- PostgreSQL walk the primary key filtering on phone (the whole table when nobody has the number); the
-- expression makes it use the phone index instead.
update ingest_people
set lead_id = (select min(l.id + 0) from leads as l where l.phone_e164 = ingest_people.phone_e164)
where (email_key is not null) = :with_email and lead_id is null and email_key is null and phone_e164 is not null
