-- sla_rejections_weekly: for each computed week (stg_weeks), the handoffs sales rejected in the
-- week (as funnel_weekly.rejected), per reason (sales_queue.outcome_reason) and per origin of the
-- lead: dimension 'all' (value 'all'), 'channel', 'source' or 'campaign', as in funnel_weekly.
-- Needs stg_weeks, stg_handoff_outcomes and stg_lead_origin.
with rejections as (
    select distinct
        stg_weeks.week_start,
        stg_handoff_outcomes.item_id,
        stg_handoff_outcomes.reason,
        coalesce(stg_lead_origin.channel, '(none)') as channel,
        coalesce(stg_lead_origin.source, '(none)') as source,
        coalesce(stg_lead_origin.campaign, '(none)') as campaign
    from stg_weeks
    join stg_handoff_outcomes
      on stg_handoff_outcomes.decided_at >= stg_weeks.starts_at
     and stg_handoff_outcomes.decided_at < stg_weeks.ends_at
    left join stg_lead_origin on stg_lead_origin.lead_id = stg_handoff_outcomes.lead_id
    where stg_handoff_outcomes.outcome = 'rejected'
),

by_dimension as (
    select week_start, reason, 'all' as dimension, 'all' as value from rejections
    union all
    select week_start, reason, 'channel', channel from rejections
    union all
    select week_start, reason, 'source', source from rejections
    union all
    select week_start, reason, 'campaign', campaign from rejections
)

select week_start, reason, dimension, value, count(*) as rejected
from by_dimension
group by week_start, reason, dimension, value
