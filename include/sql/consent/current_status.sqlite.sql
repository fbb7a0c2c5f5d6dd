-- The current consent of each given lead on one channel: its newest row in the append-only log
-- (the latest recorded_at, then the highest id), as of the parameter as_of when it is not null.
-- The parameter lead_ids is a JSON array of lead ids. Leads without any row are left out.
with wanted_leads as (
    select distinct cast(value as integer) as lead_id
    from json_each(:lead_ids)
),

current_consent as (
    -- one index probe per lead: (lead_id, channel, recorded_at), newest first
    select
        w.lead_id,
        (
            select c.status
            from consents as c
            where c.lead_id = w.lead_id
              and c.channel = :channel
              and (:as_of is null or c.recorded_at <= :as_of)
            order by c.recorded_at desc, c.id desc
            limit 1
        ) as status
    from wanted_leads as w
)

select lead_id, status
from current_consent
where status is not null
