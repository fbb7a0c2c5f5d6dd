-- funnel_velocity (PostgreSQL): for each transition, the leads whose first entry into the later
-- stage falls in the week and who entered the earlier stage before it: how many, and the median
-- and 90th percentile of the days between the two first entries (for 'lead': the earliest touch,
-- merged leads' included), interpolated linearly (percentile_cont).
-- The SQLite variant beside this file computes the same interpolation with window functions.
-- One row per computed week (stg_weeks) and transition. Needs stg_weeks, stg_lead_origin and
-- stg_first_stage_entry.
with transitions (transition, earlier_stage, later_stage) as (
    values
        ('lead_mql', 'lead', 'mql'),
        ('mql_sql', 'mql', 'sql'),
        ('sql_opportunity', 'sql', 'opportunity'),
        ('opportunity_customer', 'opportunity', 'customer')
),

later_entries as (  -- first entries into a later stage that fall in a computed week
    select
        stg_weeks.week_start,
        transitions.transition,
        transitions.earlier_stage,
        stg_first_stage_entry.lead_id,
        stg_first_stage_entry.first_at
    from transitions
    cross join stg_weeks
    join stg_first_stage_entry
      on stg_first_stage_entry.stage = transitions.later_stage
     and stg_first_stage_entry.first_at >= stg_weeks.starts_at
     and stg_first_stage_entry.first_at < stg_weeks.ends_at
),

durations as (  -- the earlier stage: the earliest touch for 'lead', else its first entry
    select
        later.week_start,
        later.transition,
        extract(epoch from later.first_at - coalesce(origin.first_touch_at, earlier.first_at)) / 86400.0 as days
    from later_entries as later
    left join stg_lead_origin as origin
      on later.earlier_stage = 'lead'
     and origin.lead_id = later.lead_id
    left join stg_first_stage_entry as earlier
      on later.earlier_stage <> 'lead'
     and earlier.lead_id = later.lead_id
     and earlier.stage = later.earlier_stage
    where coalesce(origin.first_touch_at, earlier.first_at) < later.first_at
)

select
    stg_weeks.week_start,
    transitions.transition,
    count(durations.days) as leads,
    percentile_cont(0.5) within group (order by durations.days::float8) as median_days,
    percentile_cont(0.9) within group (order by durations.days::float8) as p90_days
from stg_weeks
cross join transitions
left join durations
  on durations.week_start = stg_weeks.week_start
 and durations.transition = transitions.transition
group by stg_weeks.week_start, transitions.transition
