-- The current consent of each given lead on one channel: its newest row in the append-only log
-- (the latest recorded_at, then the highest id), as of the parameter as_of when it is not null.
-- The parameter lead_ids is a JSON array of lead ids. Leads without any row are left out.
-- One index probe per lead, (lead_id, channel, recorded_at) newest first, as a lateral join: a
-- scalar subquery both selected and filtered on ("where status is not null") ran twice per lead.
with wanted_leads as (
    select distinct cast(value as bigint) as lead_id
    from jsonb_array_elements_text(cast(:lead_ids as jsonb))
)

select w.lead_id, current_consent.status
from wanted_leads as w
cross join lateral (
    select c.status
    from consents as c
    where c.lead_id = w.lead_id
      and c.channel = :channel
      and (cast(:as_of as timestamptz) is null or c.recorded_at <= cast(:as_of as timestamptz))
    order by c.recorded_at desc, c.id desc
    limit 1
) as current_consent
