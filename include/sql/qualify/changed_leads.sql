-- Leads the next qualification pass must look at (the daily decay run takes every live lead instead).
-- The parameter touch_watermark is the highest touchpoints.id already scored (pipeline_state 'qualify.touchpoints_max_id').
with live_leads as (
    select id, updated_at, qualified_at
    from leads
    where merged_into_id is null
      and erased_at is null
),

changed_since_qualified as (
    -- new, or edited (ingestion, a merge) since qualification last saw the row
    select id as lead_id
    from live_leads
    where qualified_at is null
       or updated_at > qualified_at
),

newly_touched as (
    -- a form fill, email click, webinar... arrived since the last pass
    select t.lead_id
    from touchpoints as t
    join live_leads as l on l.id = t.lead_id
    where t.id > :touch_watermark
)

select lead_id from changed_since_qualified
union
select lead_id from newly_touched
