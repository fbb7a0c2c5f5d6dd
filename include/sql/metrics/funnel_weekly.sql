-- funnel_weekly: the volumes of one week, for all leads and per origin channel, source and campaign.
--   new_leads: leads whose earliest touch falls in the week
--   mql .. disqualified: distinct leads with a lifecycle_history row into that stage in the week
--   accepted, rejected: handoffs (sales_queue items of kind 'handoff') a rep accepted, or
--     rejected, in the week (the time of that action in sales_queue_history)
--   won_revenue: the amounts of the opportunities closed won in the week (any kind)
-- Binds: week_start (date), starts_at and ends_at (UTC instants bounding the ISO week in
-- FUNNELFLOW_REPORT_TZ; start included, end excluded). Needs stg_stage_changes, stg_lead_origin,
-- stg_handoff_outcomes and stg_won_opportunities.
with new_leads as (
    select lead_id, 'new_leads' as figure, 0 as amount
    from stg_lead_origin
    where first_touch_at >= :starts_at
      and first_touch_at < :ends_at
),

stage_moves as (
    select distinct lead_id, to_stage as figure, 0 as amount
    from stg_stage_changes
    where changed_at >= :starts_at
      and changed_at < :ends_at
      and to_stage in ('mql', 'sql', 'opportunity', 'customer', 'recycled', 'disqualified')
),

handoff_outcomes as (  -- one row per handoff and outcome recorded in the week
    select distinct item_id, lead_id, outcome as figure, 0 as amount
    from stg_handoff_outcomes
    where decided_at >= :starts_at
      and decided_at < :ends_at
),

won_deals as (
    select lead_id, 'won' as figure, amount
    from stg_won_opportunities
    where closed_at >= :starts_at
      and closed_at < :ends_at
),

counted as (
    select lead_id, figure, amount from new_leads
    union all
    select lead_id, figure, amount from stage_moves
    union all
    select lead_id, figure, amount from handoff_outcomes
    union all
    select lead_id, figure, amount from won_deals
),

with_origin as (
    select
        counted.lead_id,
        counted.figure,
        counted.amount,
        coalesce(stg_lead_origin.channel, '(none)') as channel,
        coalesce(stg_lead_origin.source, '(none)') as source,
        coalesce(stg_lead_origin.campaign, '(none)') as campaign
    from counted
    left join stg_lead_origin on stg_lead_origin.lead_id = counted.lead_id
),

by_dimension as (
    select 'all' as dimension, 'all' as value, figure, amount from with_origin
    union all
    select 'channel', channel, figure, amount from with_origin
    union all
    select 'source', source, figure, amount from with_origin
    union all
    select 'campaign', campaign, figure, amount from with_origin
)

select
    :week_start as week_start,
    dimension,
    value,
    count(case when figure = 'new_leads' then 1 end) as new_leads,
    count(case when figure = 'mql' then 1 end) as mql,
    count(case when figure = 'sql' then 1 end) as sql,
    count(case when figure = 'opportunity' then 1 end) as opportunity,
    count(case when figure = 'customer' then 1 end) as customer,
    count(case when figure = 'recycled' then 1 end) as recycled,
    count(case when figure = 'disqualified' then 1 end) as disqualified,
    count(case when figure = 'accepted' then 1 end) as accepted,
    count(case when figure = 'rejected' then 1 end) as rejected,
    sum(case when figure = 'won' then amount else 0 end) as won_revenue
from by_dimension
group by dimension, value
