-- funnel_weekly: the volumes of one week, for all leads and per origin channel, source and campaign.
--   new_leads: leads whose earliest touch falls in the week
--   mql .. disqualified: distinct leads with a lifecycle_history row into that stage in the week
-- accepted, rejected and won_revenue stay NULL until the sales tables exist (issue 13).
-- Binds: week_start (date), starts_at and ends_at (UTC instants bounding the ISO week in
-- FUNNELFLOW_REPORT_TZ; start included, end excluded). Needs stg_stage_changes and stg_lead_origin.
with new_leads as (
    select lead_id, 'new_leads' as figure
    from stg_lead_origin
    where first_touch_at >= :starts_at
      and first_touch_at < :ends_at
),

stage_moves as (
    select distinct lead_id, to_stage as figure
    from stg_stage_changes
    where changed_at >= :starts_at
      and changed_at < :ends_at
      and to_stage in ('mql', 'sql', 'opportunity', 'customer', 'recycled', 'disqualified')
),

counted_leads as (
    select lead_id, figure from new_leads
    union all
    select lead_id, figure from stage_moves
),

with_origin as (
    select
        counted_leads.lead_id,
        counted_leads.figure,
        coalesce(stg_lead_origin.channel, '(none)') as channel,
        coalesce(stg_lead_origin.source, '(none)') as source,
        coalesce(stg_lead_origin.campaign, '(none)') as campaign
    from counted_leads
    left join stg_lead_origin on stg_lead_origin.lead_id = counted_leads.lead_id
),

by_dimension as (
    select 'all' as dimension, 'all' as value, figure from with_origin
    union all
    select 'channel', channel, figure from with_origin
    union all
    select 'source', source, figure from with_origin
    union all
    select 'campaign', campaign, figure from with_origin
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
    count(case when figure = 'disqualified' then 1 end) as disqualified
from by_dimension
group by dimension, value
