-- funnel_cohorts: for the report of week_start, each cohort week in stg_cohort_weeks (the 12
-- weeks up to and including it): of the leads whose earliest touch falls in the cohort week, how
-- many reached MQL, SQL and customer before as_of (the end of the report's week).
-- "Reached MQL" = entered mql or any later stage (sql, opportunity, customer): a lead sales took
-- straight to SQL passed MQL. "Reached SQL" = entered sql, opportunity or customer.
-- Needs stg_lead_origin, stg_first_stage_entry and stg_cohort_weeks.
with cohort_leads as (
    select
        stg_cohort_weeks.cohort_week_start,
        stg_lead_origin.lead_id,
        stg_lead_origin.channel,
        stg_lead_origin.source,
        stg_lead_origin.campaign
    from stg_lead_origin
    join stg_cohort_weeks
      on stg_lead_origin.first_touch_at >= stg_cohort_weeks.starts_at
     and stg_lead_origin.first_touch_at < stg_cohort_weeks.ends_at
),

stages_reached as (
    select
        lead_id,
        max(case when stage in ('mql', 'sql', 'opportunity', 'customer') then 1 else 0 end) as reached_mql,
        max(case when stage in ('sql', 'opportunity', 'customer') then 1 else 0 end) as reached_sql,
        max(case when stage = 'customer' then 1 else 0 end) as reached_customer
    from stg_first_stage_entry
    where first_at < :as_of
    group by lead_id
),

cohort_progress as (
    select
        cohort_leads.*,
        coalesce(stages_reached.reached_mql, 0) as reached_mql,
        coalesce(stages_reached.reached_sql, 0) as reached_sql,
        coalesce(stages_reached.reached_customer, 0) as reached_customer
    from cohort_leads
    left join stages_reached on stages_reached.lead_id = cohort_leads.lead_id
),

by_dimension as (
    select cohort_week_start, 'all' as dimension, 'all' as value, reached_mql, reached_sql, reached_customer
    from cohort_progress
    union all
    select cohort_week_start, 'channel', channel, reached_mql, reached_sql, reached_customer from cohort_progress
    union all
    select cohort_week_start, 'source', source, reached_mql, reached_sql, reached_customer from cohort_progress
    union all
    select cohort_week_start, 'campaign', campaign, reached_mql, reached_sql, reached_customer from cohort_progress
)

select
    :week_start as week_start,
    cohort_week_start,
    dimension,
    value,
    count(*) as leads,
    sum(reached_mql) as mql,
    sum(reached_sql) as sql,
    sum(reached_customer) as customer
from by_dimension
group by cohort_week_start, dimension, value
