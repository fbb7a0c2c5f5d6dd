-- sla_rejections_weekly: the handoffs sales rejected in the week (as funnel_weekly.rejected),
-- per reason (sales_queue.outcome_reason) and per origin of the lead: dimension 'all' (value
-- 'all'), 'channel', 'source' or 'campaign', as in funnel_weekly.
-- Binds: week_start, starts_at, ends_at. Needs stg_handoff_outcomes and stg_lead_origin.
with rejections as (
    select distinct
        stg_handoff_outcomes.item_id,
        stg_handoff_outcomes.reason,
        coalesce(stg_lead_origin.channel, '(none)') as channel,
        coalesce(stg_lead_origin.source, '(none)') as source,
        coalesce(stg_lead_origin.campaign, '(none)') as campaign
    from stg_handoff_outcomes
    left join stg_lead_origin on stg_lead_origin.lead_id = stg_handoff_outcomes.lead_id
    where stg_handoff_outcomes.outcome = 'rejected'
      and stg_handoff_outcomes.decided_at >= :starts_at
      and stg_handoff_outcomes.decided_at < :ends_at
),

by_dimension as (
    select reason, 'all' as dimension, 'all' as value from rejections
    union all
    select reason, 'channel', channel from rejections
    union all
    select reason, 'source', source from rejections
    union all
    select reason, 'campaign', campaign from rejections
)

select :week_start as week_start, reason, dimension, value, count(*) as rejected
from by_dimension
group by reason, dimension, value
