-- Per-arrival outcome (small batches: the web form, ad platforms, replays): its lead, whether this batch created
-- the lead, and the lead's first arrival in the batch (that one counts as "inserted"). A left join: on PostgreSQL
-- a person the email upsert left unresolved has no row in the view.
with arrivals_with_lead as (
    select a.pos, p.lead_id, p.is_new
    from ingest_arrivals as a
    left join ingest_people_resolved as p on p.match_key = a.match_key
)

select pos, lead_id, is_new,
       min(pos) over (partition by lead_id) as first_pos_of_lead,
       max(case when is_new then 1 else 0 end) over (partition by lead_id) as lead_created
from arrivals_with_lead
