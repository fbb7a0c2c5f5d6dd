-- funnel_weekly: the volumes of each computed week, for all leads and per origin channel, source
-- and campaign.
--   new_leads: leads whose earliest touch falls in the week
--   mql .. disqualified: distinct leads with a lifecycle_history row into that stage in the week
--   accepted, rejected: handoffs (sales_queue items of kind 'handoff') a rep accepted, or
--     rejected, in the week (the time of that action in sales_queue_history)
--   won_revenue: the amounts of the opportunities closed won in the week (any kind)
-- The weeks are the rows of stg_weeks (week_start, and starts_at and ends_at: the UTC instants
-- bounding the ISO week in FUNNELFLOW_REPORT_TZ; start included, end excluded). Needs
-- stg_weeks, stg_stage_changes, stg_lead_origin, stg_handoff_outcomes and stg_won_opportunities.
-- SQLite runs this file; PostgreSQL runs funnel_weekly.postgresql.sql beside it (the same rows, computed
-- for a year of weeks without a range join per week: see its header).
with new_leads as (
    select stg_weeks.week_start, stg_lead_origin.lead_id, 'new_leads' as figure, 0 as amount
    from stg_weeks
    join stg_lead_origin
      on stg_lead_origin.first_touch_at >= stg_weeks.starts_at
     and stg_lead_origin.first_touch_at < stg_weeks.ends_at
),

stage_moves as (
    select distinct stg_weeks.week_start, stg_stage_changes.lead_id, stg_stage_changes.to_stage as figure, 0 as amount
    from stg_weeks
    join stg_stage_changes
      on stg_stage_changes.changed_at >= stg_weeks.starts_at
     and stg_stage_changes.changed_at < stg_weeks.ends_at
    where stg_stage_changes.to_stage in ('mql', 'sql', 'opportunity', 'customer', 'recycled', 'disqualified')
),

handoff_outcomes as (  -- one row per handoff and outcome recorded in the week
    select distinct
        stg_weeks.week_start,
        stg_handoff_outcomes.item_id,
        stg_handoff_outcomes.lead_id,
        stg_handoff_outcomes.outcome as figure,
        0 as amount
    from stg_weeks
    join stg_handoff_outcomes
      on stg_handoff_outcomes.decided_at >= stg_weeks.starts_at
     and stg_handoff_outcomes.decided_at < stg_weeks.ends_at
),

won_deals as (
    select stg_weeks.week_start, stg_won_opportunities.lead_id, 'won' as figure, stg_won_opportunities.amount
    from stg_weeks
    join stg_won_opportunities
      on stg_won_opportunities.closed_at >= stg_weeks.starts_at
     and stg_won_opportunities.closed_at < stg_weeks.ends_at
),

counted as (
    select week_start, lead_id, figure, amount from new_leads
    union all
    select week_start, lead_id, figure, amount from stage_moves
    union all
    select week_start, lead_id, figure, amount from handoff_outcomes
    union all
    select week_start, lead_id, figure, amount from won_deals
),

with_origin as (
    select
        counted.week_start,
        counted.lead_id,
        counted.figure,
        counted.amount,
        coalesce(stg_lead_origin.channel, '(none)') as channel,
        coalesce(stg_lead_origin.source, '(none)') as source,
        coalesce(stg_lead_origin.campaign, '(none)') as campaign
    from counted
    left join stg_lead_origin on stg_lead_origin.lead_id = counted.lead_id
),

origin_figures as (  -- per week and origin, each figure counted (before the dimensions are split into rows)
    select
        week_start,
        channel,
        source,
        campaign,
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
    from with_origin
    group by week_start, channel, source, campaign
),

by_dimension as (
    select week_start, 'all' as dimension, 'all' as value,
           new_leads, mql, sql, opportunity, customer, recycled, disqualified, accepted, rejected, won_revenue
    from origin_figures
    union all
    select week_start, 'channel', channel,
           new_leads, mql, sql, opportunity, customer, recycled, disqualified, accepted, rejected, won_revenue
    from origin_figures
    union all
    select week_start, 'source', source,
           new_leads, mql, sql, opportunity, customer, recycled, disqualified, accepted, rejected, won_revenue
    from origin_figures
    union all
    select week_start, 'campaign', campaign,
           new_leads, mql, sql, opportunity, customer, recycled, disqualified, accepted, rejected, won_revenue
    from origin_figures
)

select
    week_start,
    dimension,
    value,
    sum(new_leads) as new_leads,
    sum(mql) as mql,
    sum(sql) as sql,
    sum(opportunity) as opportunity,
    sum(customer) as customer,
    sum(recycled) as recycled,
    sum(disqualified) as disqualified,
    sum(accepted) as accepted,
    sum(rejected) as rejected,
    sum(won_revenue) as won_revenue
from by_dimension
group by week_start, dimension, value
