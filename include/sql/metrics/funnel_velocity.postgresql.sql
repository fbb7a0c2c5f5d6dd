-- funnel_velocity (PostgreSQL): for each transition, the leads whose first entry into the later
-- stage falls in the week and who entered the earlier stage before it: how many, and the median
-- and 90th percentile of the days between the two first entries (for 'lead': the earliest touch,
-- merged leads' included), interpolated linearly (percentile_cont).
-- The SQLite variant beside this file computes the same interpolation with window functions.
-- Binds: week_start, starts_at, ends_at. Needs stg_lead_origin and stg_first_stage_entry.
with transitions (transition, earlier_stage, later_stage) as (
    values
        ('lead_mql', 'lead', 'mql'),
        ('mql_sql', 'mql', 'sql'),
        ('sql_opportunity', 'sql', 'opportunity'),
        ('opportunity_customer', 'opportunity', 'customer')
),

earlier_entries as (
    select lead_id, 'lead' as stage, first_touch_at as first_at from stg_lead_origin
    union all
    select lead_id, stage, first_at from stg_first_stage_entry where stage in ('mql', 'sql', 'opportunity')
),

durations as (
    select
        transitions.transition,
        extract(epoch from later.first_at - earlier.first_at) / 86400.0 as days
    from transitions
    join stg_first_stage_entry as later
      on later.stage = transitions.later_stage
     and later.first_at >= :starts_at
     and later.first_at < :ends_at
    join earlier_entries as earlier
      on earlier.lead_id = later.lead_id
     and earlier.stage = transitions.earlier_stage
     and earlier.first_at < later.first_at
)

select
    :week_start as week_start,
    transitions.transition,
    count(durations.days) as leads,
    percentile_cont(0.5) within group (order by durations.days::float8) as median_days,
    percentile_cont(0.9) within group (order by durations.days::float8) as p90_days
from transitions
left join durations on durations.transition = transitions.transition
group by transitions.transition
