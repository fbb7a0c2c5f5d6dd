-- "Never overwrite better data with worse" for the known leads of the general path: a held value stays, a
-- blank is filled (an empty string counts as blank for the free-text fields), and the seen-at times widen.
update leads set
    first_name = coalesce(nullif(leads.first_name, ''), s.first_name),
    last_name = coalesce(nullif(leads.last_name, ''), s.last_name),
    company = coalesce(nullif(leads.company, ''), s.company),
    job_title = coalesce(nullif(leads.job_title, ''), s.job_title),
    phone = coalesce(nullif(leads.phone, ''), s.phone),
    email = coalesce(leads.email, s.email),
    email_key = coalesce(leads.email_key, s.email_key),
    email_domain = coalesce(leads.email_domain, s.email_domain),
    phone_e164 = coalesce(leads.phone_e164, s.phone_e164),
    country = coalesce(leads.country, s.country),
    original_source = coalesce(leads.original_source, s.original_source),
    first_seen_at = case when leads.first_seen_at is null or s.first_seen_at < leads.first_seen_at
                         then s.first_seen_at else leads.first_seen_at end,
    last_seen_at = case when leads.last_seen_at is null or s.last_seen_at > leads.last_seen_at
                        then s.last_seen_at else leads.last_seen_at end,
    updated_at = :now
from ingest_people as s
where (s.email_key is not null) = :with_email and s.lead_id = leads.id and s.is_new = false
  and leads.erased_at is null
