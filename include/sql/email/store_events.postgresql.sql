-- Store a webhook batch (PostgreSQL): the whole batch travels as one JSON document (parameter rows), expanded
-- server-side into rows: one statement, one parameter. (A VALUES list of thousands of rows costs more to build
-- and parse on our side than the insert itself costs the database.) Each event lands once, keyed by
-- sg_event_id: SendGrid's repeats and retries change nothing. Returns the ids of the new rows.
with batch_events as (
    select r.sg_event_id, r.event, r.send_id, r.sg_message_id, r.email_hash, r.occurred_at, r.received_at,
           r.url, r.reason, r.machine_open, r.payload
    from jsonb_to_recordset(cast(:rows as jsonb)) as r(
        sg_event_id text, event text, send_id bigint, sg_message_id text, email_hash text, occurred_at timestamptz,
        received_at timestamptz, url text, reason text, machine_open boolean, payload jsonb)
)

insert into email_events
    (sg_event_id, event, send_id, sg_message_id, email_hash, occurred_at, received_at, url, reason, machine_open, payload)
select sg_event_id, event, send_id, sg_message_id, email_hash, occurred_at, received_at, url, reason, machine_open, payload
from batch_events
on conflict (sg_event_id) do nothing
returning id
