-- PostgreSQL: everyone with an email key in one statement: insert, or fill the blanks of the lead that holds
-- the key ("never overwrite better data with worse": a held value stays, a blank is filled, an empty string
-- counts as blank for the free-text fields, and the seen-at times widen). Sorted by the key so the unique
-- index is walked in order (the worker stages them in key order: the sort finds them sorted); "was new" is
-- xmax = 0. An erased lead is neither updated nor returned. The answers go to ingest_resolved.
with upserted as (
    insert into leads as l (email, email_key, email_domain, first_name, last_name, company, job_title, phone,
                            phone_e164, country, original_source, lifecycle_stage, first_seen_at, last_seen_at,
                            created_at, updated_at)
    select email, email_key, email_domain, first_name, last_name, company, job_title, phone, phone_e164,
           country, original_source, 'lead', first_seen_at, last_seen_at, :now, :now
    from ingest_all_people
    where email_key is not null
    order by email_key
    on conflict (email_key) do update set
        first_name = coalesce(nullif(l.first_name, ''), excluded.first_name),
        last_name = coalesce(nullif(l.last_name, ''), excluded.last_name),
        company = coalesce(nullif(l.company, ''), excluded.company),
        job_title = coalesce(nullif(l.job_title, ''), excluded.job_title),
        phone = coalesce(nullif(l.phone, ''), excluded.phone),
        phone_e164 = coalesce(l.phone_e164, excluded.phone_e164),
        country = coalesce(l.country, excluded.country),
        original_source = coalesce(l.original_source, excluded.original_source),
        first_seen_at = case when l.first_seen_at is null or excluded.first_seen_at < l.first_seen_at
                             then excluded.first_seen_at else l.first_seen_at end,
        last_seen_at = case when l.last_seen_at is null or excluded.last_seen_at > l.last_seen_at
                            then excluded.last_seen_at else l.last_seen_at end,
        updated_at = :now
    where l.erased_at is null
    returning l.email_key, l.id, (l.xmax = 0) as is_new
)

insert into ingest_resolved (match_key, lead_id, is_new)
select 'e:' || email_key, id, is_new from upserted
