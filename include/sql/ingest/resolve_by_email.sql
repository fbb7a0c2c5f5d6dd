-- Known people by email key (never an erased lead). The general path (SQLite for everyone; PostgreSQL for
-- people without an email key) runs once per group of people: with_email true, then false.
update ingest_people
set lead_id = (select l.id from leads as l where l.email_key = ingest_people.email_key and l.erased_at is null)
where (email_key is not null) = :with_email and lead_id is null and email_key is not null
