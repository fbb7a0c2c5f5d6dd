-- The batch's people, one row per match_key (temporary: this connection only). The first non-blank value of
-- each lead field, the earliest and latest arrival time; lead_id and is_new are filled when they are resolved.
create temporary table if not exists ingest_people (
    match_key varchar(400) not null,
    email varchar(320), email_key varchar(320), email_domain varchar(255), first_name varchar(120),
    last_name varchar(120), company varchar(255), job_title varchar(255), phone varchar(64),
    phone_e164 varchar(20), country varchar(2), external_source varchar(60), external_id varchar(255),
    original_source varchar(60), first_seen_at timestamptz, last_seen_at timestamptz, arrivals integer, first_pos bigint,
    lead_id bigint, is_new boolean
)
