-- The people no lead took: new leads, in the order they first arrived.
insert into leads (email, email_key, email_domain, first_name, last_name, company, job_title, phone, phone_e164,
                   country, external_source, external_id, original_source, lifecycle_stage, first_seen_at,
                   last_seen_at, created_at, updated_at)
select email, email_key, email_domain, first_name, last_name, company, job_title, phone, phone_e164,
       country, external_source, external_id, original_source, 'lead', first_seen_at, last_seen_at, :now, :now
from ingest_people
where (email_key is not null) = :with_email and lead_id is null
order by first_pos
on conflict do nothing
