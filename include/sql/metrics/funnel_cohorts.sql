-- funnel_cohorts: for the report of each computed week (stg_weeks), each of its cohort weeks
-- (stg_cohort_weeks: the 12 weeks up to and including it): of the leads whose earliest touch
-- falls in the cohort week, how many reached MQL, SQL and customer before the end of the
-- report's week (stg_weeks.ends_at, the as-of time).
-- "Reached MQL" = entered mql or any later stage (sql, opportunity, customer): a lead sales took
-- straight to SQL passed MQL. "Reached SQL" = entered sql, opportunity or customer.
-- A cohort week is shown by up to 12 report weeks (COHORT_WEEKS in funnelflow/metrics/compute.py:
-- the columns numbered 1..12 below follow it). Its leads are read once: for each, whether it had
-- reached each stage by the as-of time of the cohort's 1st, 2nd, .. 12th report week is counted
-- side by side per origin, then each report week takes its own column (instead of joining every
-- lead to each of its 12 report weeks: 12 million rows at a million leads).
-- Needs stg_weeks, stg_cohort_weeks, stg_lead_origin and stg_first_stage_entry.
with report_weeks as (  -- each cohort week's report weeks, numbered 1, 2, .. in order, with their as-of times
    select
        stg_cohort_weeks.week_start,
        stg_cohort_weeks.cohort_week_start,
        stg_cohort_weeks.starts_at,
        stg_cohort_weeks.ends_at,
        stg_weeks.ends_at as as_of,
        row_number() over (
            partition by stg_cohort_weeks.cohort_week_start order by stg_cohort_weeks.week_start
        ) as report_no
    from stg_cohort_weeks
    join stg_weeks on stg_weeks.week_start = stg_cohort_weeks.week_start
),

cohort_weeks as (  -- each cohort week once: its bounds and the as-of times of its report weeks
    select
        cohort_week_start,
        min(starts_at) as starts_at,
        min(ends_at) as ends_at,
        max(case when report_no = 1 then as_of end) as as_of_1,
        max(case when report_no = 2 then as_of end) as as_of_2,
        max(case when report_no = 3 then as_of end) as as_of_3,
        max(case when report_no = 4 then as_of end) as as_of_4,
        max(case when report_no = 5 then as_of end) as as_of_5,
        max(case when report_no = 6 then as_of end) as as_of_6,
        max(case when report_no = 7 then as_of end) as as_of_7,
        max(case when report_no = 8 then as_of end) as as_of_8,
        max(case when report_no = 9 then as_of end) as as_of_9,
        max(case when report_no = 10 then as_of end) as as_of_10,
        max(case when report_no = 11 then as_of end) as as_of_11,
        max(case when report_no = 12 then as_of end) as as_of_12
    from report_weeks
    group by cohort_week_start
),

lead_progress as (  -- when each lead first reached MQL, SQL and customer (NULL: never)
    select
        lead_id,
        min(case when stage in ('mql', 'sql', 'opportunity', 'customer') then first_at end) as reached_mql_at,
        min(case when stage in ('sql', 'opportunity', 'customer') then first_at end) as reached_sql_at,
        min(case when stage = 'customer' then first_at end) as reached_customer_at
    from stg_first_stage_entry
    where stage in ('mql', 'sql', 'opportunity', 'customer')
    group by lead_id
),

cohort_counts as (  -- per cohort week and origin: its leads, and how many had reached each stage by each report week
    select
        cohort_weeks.cohort_week_start,
        stg_lead_origin.channel,
        stg_lead_origin.source,
        stg_lead_origin.campaign,
        count(*) as leads,
        count(case when lead_progress.reached_mql_at < cohort_weeks.as_of_1 then 1 end) as mql_1,
        count(case when lead_progress.reached_mql_at < cohort_weeks.as_of_2 then 1 end) as mql_2,
        count(case when lead_progress.reached_mql_at < cohort_weeks.as_of_3 then 1 end) as mql_3,
        count(case when lead_progress.reached_mql_at < cohort_weeks.as_of_4 then 1 end) as mql_4,
        count(case when lead_progress.reached_mql_at < cohort_weeks.as_of_5 then 1 end) as mql_5,
        count(case when lead_progress.reached_mql_at < cohort_weeks.as_of_6 then 1 end) as mql_6,
        count(case when lead_progress.reached_mql_at < cohort_weeks.as_of_7 then 1 end) as mql_7,
        count(case when lead_progress.reached_mql_at < cohort_weeks.as_of_8 then 1 end) as mql_8,
        count(case when lead_progress.reached_mql_at < cohort_weeks.as_of_9 then 1 end) as mql_9,
        count(case when lead_progress.reached_mql_at < cohort_weeks.as_of_10 then 1 end) as mql_10,
        count(case when lead_progress.reached_mql_at < cohort_weeks.as_of_11 then 1 end) as mql_11,
        count(case when lead_progress.reached_mql_at < cohort_weeks.as_of_12 then 1 end) as mql_12,
        count(case when lead_progress.reached_sql_at < cohort_weeks.as_of_1 then 1 end) as sql_1,
        count(case when lead_progress.reached_sql_at < cohort_weeks.as_of_2 then 1 end) as sql_2,
        count(case when lead_progress.reached_sql_at < cohort_weeks.as_of_3 then 1 end) as sql_3,
        count(case when lead_progress.reached_sql_at < cohort_weeks.as_of_4 then 1 end) as sql_4,
        count(case when lead_progress.reached_sql_at < cohort_weeks.as_of_5 then 1 end) as sql_5,
        count(case when lead_progress.reached_sql_at < cohort_weeks.as_of_6 then 1 end) as sql_6,
        count(case when lead_progress.reached_sql_at < cohort_weeks.as_of_7 then 1 end) as sql_7,
        count(case when lead_progress.reached_sql_at < cohort_weeks.as_of_8 then 1 end) as sql_8,
        count(case when lead_progress.reached_sql_at < cohort_weeks.as_of_9 then 1 end) as sql_9,
        count(case when lead_progress.reached_sql_at < cohort_weeks.as_of_10 then 1 end) as sql_10,
        count(case when lead_progress.reached_sql_at < cohort_weeks.as_of_11 then 1 end) as sql_11,
        count(case when lead_progress.reached_sql_at < cohort_weeks.as_of_12 then 1 end) as sql_12,
        count(case when lead_progress.reached_customer_at < cohort_weeks.as_of_1 then 1 end) as customer_1,
        count(case when lead_progress.reached_customer_at < cohort_weeks.as_of_2 then 1 end) as customer_2,
        count(case when lead_progress.reached_customer_at < cohort_weeks.as_of_3 then 1 end) as customer_3,
        count(case when lead_progress.reached_customer_at < cohort_weeks.as_of_4 then 1 end) as customer_4,
        count(case when lead_progress.reached_customer_at < cohort_weeks.as_of_5 then 1 end) as customer_5,
        count(case when lead_progress.reached_customer_at < cohort_weeks.as_of_6 then 1 end) as customer_6,
        count(case when lead_progress.reached_customer_at < cohort_weeks.as_of_7 then 1 end) as customer_7,
        count(case when lead_progress.reached_customer_at < cohort_weeks.as_of_8 then 1 end) as customer_8,
        count(case when lead_progress.reached_customer_at < cohort_weeks.as_of_9 then 1 end) as customer_9,
        count(case when lead_progress.reached_customer_at < cohort_weeks.as_of_10 then 1 end) as customer_10,
        count(case when lead_progress.reached_customer_at < cohort_weeks.as_of_11 then 1 end) as customer_11,
        count(case when lead_progress.reached_customer_at < cohort_weeks.as_of_12 then 1 end) as customer_12
    from cohort_weeks
    join stg_lead_origin
      on stg_lead_origin.first_touch_at >= cohort_weeks.starts_at
     and stg_lead_origin.first_touch_at < cohort_weeks.ends_at
    left join lead_progress on lead_progress.lead_id = stg_lead_origin.lead_id
    group by
        cohort_weeks.cohort_week_start,
        stg_lead_origin.channel,
        stg_lead_origin.source,
        stg_lead_origin.campaign
),

cohort_progress as (  -- per report week, cohort week and origin: how many leads, and how many had reached each stage
    select
        report_weeks.week_start,
        report_weeks.cohort_week_start,
        cohort_counts.channel,
        cohort_counts.source,
        cohort_counts.campaign,
        cohort_counts.leads,
        case report_weeks.report_no
            when 1 then cohort_counts.mql_1
            when 2 then cohort_counts.mql_2
            when 3 then cohort_counts.mql_3
            when 4 then cohort_counts.mql_4
            when 5 then cohort_counts.mql_5
            when 6 then cohort_counts.mql_6
            when 7 then cohort_counts.mql_7
            when 8 then cohort_counts.mql_8
            when 9 then cohort_counts.mql_9
            when 10 then cohort_counts.mql_10
            when 11 then cohort_counts.mql_11
            when 12 then cohort_counts.mql_12
        end as reached_mql,
        case report_weeks.report_no
            when 1 then cohort_counts.sql_1
            when 2 then cohort_counts.sql_2
            when 3 then cohort_counts.sql_3
            when 4 then cohort_counts.sql_4
            when 5 then cohort_counts.sql_5
            when 6 then cohort_counts.sql_6
            when 7 then cohort_counts.sql_7
            when 8 then cohort_counts.sql_8
            when 9 then cohort_counts.sql_9
            when 10 then cohort_counts.sql_10
            when 11 then cohort_counts.sql_11
            when 12 then cohort_counts.sql_12
        end as reached_sql,
        case report_weeks.report_no
            when 1 then cohort_counts.customer_1
            when 2 then cohort_counts.customer_2
            when 3 then cohort_counts.customer_3
            when 4 then cohort_counts.customer_4
            when 5 then cohort_counts.customer_5
            when 6 then cohort_counts.customer_6
            when 7 then cohort_counts.customer_7
            when 8 then cohort_counts.customer_8
            when 9 then cohort_counts.customer_9
            when 10 then cohort_counts.customer_10
            when 11 then cohort_counts.customer_11
            when 12 then cohort_counts.customer_12
        end as reached_customer
    from report_weeks
    join cohort_counts on cohort_counts.cohort_week_start = report_weeks.cohort_week_start
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
