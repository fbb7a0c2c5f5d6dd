-- funnel_cohorts: for the report of each computed week (stg_weeks), each of its cohort weeks
-- (stg_cohort_weeks: the 12 weeks up to and including it): of the leads whose earliest touch
-- falls in the cohort week, how many reached MQL, SQL and customer before the end of the
-- report's week (stg_weeks.ends_at, the as-of time).
-- "Reached MQL" = entered mql or any later stage (sql, opportunity, customer): a lead sales took
-- straight to SQL passed MQL. "Reached SQL" = entered sql, opportunity or customer.
-- Needs stg_weeks, stg_cohort_weeks, stg_lead_origin and stg_first_stage_entry.
with lead_progress as (  -- when each lead first reached MQL, SQL and customer (NULL: never)
    select
        lead_id,
        min(case when stage in ('mql', 'sql', 'opportunity', 'customer') then first_at end) as reached_mql_at,
        min(case when stage in ('sql', 'opportunity', 'customer') then first_at end) as reached_sql_at,
        min(case when stage = 'customer' then first_at end) as reached_customer_at
    from stg_first_stage_entry
    group by lead_id
),

cohort_leads as (  -- the leads of every cohort week any computed week reports, with their progress
    select
        cohort_weeks.cohort_week_start,
        stg_lead_origin.channel,
        stg_lead_origin.source,
        stg_lead_origin.campaign,
        lead_progress.reached_mql_at,
        lead_progress.reached_sql_at,
        lead_progress.reached_customer_at
    from (select distinct cohort_week_start, starts_at, ends_at from stg_cohort_weeks) as cohort_weeks
    join stg_lead_origin
      on stg_lead_origin.first_touch_at >= cohort_weeks.starts_at
     and stg_lead_origin.first_touch_at < cohort_weeks.ends_at
    left join lead_progress on lead_progress.lead_id = stg_lead_origin.lead_id
),

cohort_progress as (  -- per report week, cohort week and origin: how many leads, and how many had reached each stage
    select
        stg_cohort_weeks.week_start,
        stg_cohort_weeks.cohort_week_start,
        cohort_leads.channel,
        cohort_leads.source,
        cohort_leads.campaign,
        count(*) as leads,
        count(case when cohort_leads.reached_mql_at < stg_weeks.ends_at then 1 end) as reached_mql,
        count(case when cohort_leads.reached_sql_at < stg_weeks.ends_at then 1 end) as reached_sql,
        count(case when cohort_leads.reached_customer_at < stg_weeks.ends_at then 1 end) as reached_customer
    from stg_cohort_weeks
    join stg_weeks on stg_weeks.week_start = stg_cohort_weeks.week_start
    join cohort_leads on cohort_leads.cohort_week_start = stg_cohort_weeks.cohort_week_start
    group by
        stg_cohort_weeks.week_start,
        stg_cohort_weeks.cohort_week_start,
        cohort_leads.channel,
        cohort_leads.source,
        cohort_leads.campaign
),

by_dimension as (
    select week_start, cohort_week_start, 'all' as dimension, 'all' as value, leads, reached_mql, reached_sql,
           reached_customer
    from cohort_progress
    union all
    select week_start, cohort_week_start, 'channel', channel, leads, reached_mql, reached_sql, reached_customer
    from cohort_progress
    union all
    select week_start, cohort_week_start, 'source', source, leads, reached_mql, reached_sql, reached_customer
    from cohort_progress
    union all
    select week_start, cohort_week_start, 'campaign', campaign, leads, reached_mql, reached_sql, reached_customer
    from cohort_progress
)

select
    week_start,
    cohort_week_start,
    dimension,
    value,
    sum(leads) as leads,
    sum(reached_mql) as mql,
    sum(reached_sql) as sql,
    sum(reached_customer) as customer
from by_dimension
group by week_start, cohort_week_start, dimension, value
