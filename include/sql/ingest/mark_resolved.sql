-- Whether the people just resolved are new: false after resolving known leads, true after inserting the rest.
update ingest_people set is_new = :is_new
where (email_key is not null) = :with_email and lead_id is not null and is_new is null
