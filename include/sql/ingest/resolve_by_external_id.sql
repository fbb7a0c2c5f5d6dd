-- People with neither email nor a known phone, by the source's own id for them.
update ingest_people
set lead_id = (select l.id from leads as l where l.external_source = ingest_people.external_source
                                             and l.external_id = ingest_people.external_id)
where (email_key is not null) = :with_email and lead_id is null and email_key is null and external_id is not null
