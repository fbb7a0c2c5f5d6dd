-- funnel_weekly (PostgreSQL): the same figures as funnel_weekly.sql (the definitions are there and
-- in the README), computed for a year of weeks without a range join per week: each fact finds its
-- week with width_bucket over the computed weeks' starts (the last start at or before it; a fact
-- at or after that week's end falls between computed weeks and is left out), so every staged
-- table is read once in its own order, and new leads are counted straight from their origins.
-- Needs stg_weeks, stg_week_list, stg_stage_changes, stg_lead_origin, stg_handoff_outcomes and
-- stg_won_opportunities; binds from_at, to_at (the first week's start, the last week's end).
with new_lead_counts as (  -- per week and origin
    select
        stg_weeks.week_start,
        stg_lead_origin.channel,
        stg_lead_origin.source,
        stg_lead_origin.campaign,
        count(*) as new_leads
    from stg_lead_origin
    join stg_weeks
      on stg_weeks.starts_at = (select starts from stg_week_list)[width_bucket(stg_lead_origin.first_touch_at, (select starts from stg_week_list))]
     and stg_lead_origin.first_touch_at < stg_weeks.ends_at
    where stg_lead_origin.first_touch_at >= :from_at
      and stg_lead_origin.first_touch_at < :to_at
    group by stg_weeks.week_start, stg_lead_origin.channel, stg_lead_origin.source, stg_lead_origin.campaign
),

stage_moves as (  -- each lead once per stage it entered in the week
    select distinct stg_weeks.week_start, stg_stage_changes.lead_id, stg_stage_changes.to_stage as figure
    from stg_stage_changes
    join stg_weeks
      on stg_weeks.starts_at = (select starts from stg_week_list)[width_bucket(stg_stage_changes.changed_at, (select starts from stg_week_list))]
     and stg_stage_changes.changed_at < stg_weeks.ends_at
    where stg_stage_changes.changed_at >= :from_at
      and stg_stage_changes.changed_at < :to_at
      and stg_stage_changes.to_stage in ('mql', 'sql', 'opportunity', 'customer', 'recycled', 'disqualified')
),

handoff_outcomes as (  -- one row per handoff and outcome recorded in the week
    select distinct
        stg_weeks.week_start,
        stg_handoff_outcomes.item_id,
        stg_handoff_outcomes.lead_id,
        stg_handoff_outcomes.outcome as figure
    from stg_handoff_outcomes
    join stg_weeks
      on stg_weeks.starts_at = (select starts from stg_week_list)[width_bucket(stg_handoff_outcomes.decided_at, (select starts from stg_week_list))]
     and stg_handoff_outcomes.decided_at < stg_weeks.ends_at
    where stg_handoff_outcomes.decided_at >= :from_at
      and stg_handoff_outcomes.decided_at < :to_at
),

won_deals as (
    select stg_weeks.week_start, stg_won_opportunities.lead_id, stg_won_opportunities.amount
    from stg_won_opportunities
    join stg_weeks
      on stg_weeks.starts_at = (select starts from stg_week_list)[width_bucket(stg_won_opportunities.closed_at, (select starts from stg_week_list))]
     and stg_won_opportunities.closed_at < stg_weeks.ends_at
    where stg_won_opportunities.closed_at >= :from_at
      and stg_won_opportunities.closed_at < :to_at
),

counted as (  -- the figures a lead's origin is looked up for
    select week_start, lead_id, figure, 0 as amount from stage_moves
    union all
    select week_start, lead_id, figure, 0 from handoff_outcomes
    union all
    select week_start, lead_id, 'won', amount from won_deals
),

origin_figures as (  -- per week and origin, each figure counted (before the dimensions are split into rows)
    select
        week_start,
        channel,
        source,
        campaign,
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
    from (
        select
            week_start, channel, source, campaign, new_leads,
            0 as mql, 0 as sql, 0 as opportunity, 0 as customer, 0 as recycled, 0 as disqualified,
            0 as accepted, 0 as rejected, 0 as won_revenue
        from new_lead_counts
        union all
        select
            counted.week_start,
            coalesce(stg_lead_origin.channel, '(none)'),
            coalesce(stg_lead_origin.source, '(none)'),
            coalesce(stg_lead_origin.campaign, '(none)'),
            0,
            count(case when counted.figure = 'mql' then 1 end),
            count(case when counted.figure = 'sql' then 1 end),
            count(case when counted.figure = 'opportunity' then 1 end),
            count(case when counted.figure = 'customer' then 1 end),
            count(case when counted.figure = 'recycled' then 1 end),
            count(case when counted.figure = 'disqualified' then 1 end),
            count(case when counted.figure = 'accepted' then 1 end),
            count(case when counted.figure = 'rejected' then 1 end),
            sum(case when counted.figure = 'won' then counted.amount else 0 end)
        from counted
        left join stg_lead_origin on stg_lead_origin.lead_id = counted.lead_id
        group by
            counted.week_start,
            coalesce(stg_lead_origin.channel, '(none)'),
            coalesce(stg_lead_origin.source, '(none)'),
            coalesce(stg_lead_origin.campaign, '(none)')
    ) as figures
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
