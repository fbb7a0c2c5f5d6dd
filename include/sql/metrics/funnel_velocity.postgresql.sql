-- funnel_velocity (PostgreSQL): for each transition, the leads whose first entry into the later
-- stage falls in the week and who entered the earlier stage before it: how many, and the median
-- and 90th percentile of the days between the two first entries (for 'lead': the earliest touch,
-- merged leads' included), interpolated linearly (percentile_cont).
-- The SQLite variant beside this file computes the same interpolation with window functions.
-- Each entry finds its week with width_bucket over the computed weeks' starts (no range join per
-- week). One row per computed week (stg_weeks) and transition. Needs stg_weeks, stg_week_list,
-- stg_lead_origin and stg_first_stage_entry; binds from_at, to_at (the first week's start, the
-- last week's end).
with transitions (transition, earlier_stage, later_stage) as (
    values
        ('lead_mql', 'lead', 'mql'),
        ('mql_sql', 'mql', 'sql'),
        ('sql_opportunity', 'sql', 'opportunity'),
        ('opportunity_customer', 'opportunity', 'customer')
),


later_entries as not materialized (
    -- first entries into a later stage that fall in a computed week: the week whose start is the
    -- last at or before the entry (width_bucket), if the entry comes before that week's end
    -- (inlined where used, so the planner sees the staged table's statistics)
    select
        (select week_starts from stg_week_list)[week_no] as week_start,
        lead_id,
        stage,
        first_at
    from (
        select
            stg_first_stage_entry.*,
            width_bucket(stg_first_stage_entry.first_at, (select starts from stg_week_list)) as week_no
        from stg_first_stage_entry
        where stg_first_stage_entry.stage in ('mql', 'sql', 'opportunity', 'customer')
          and stg_first_stage_entry.first_at >= :from_at
          and stg_first_stage_entry.first_at < :to_at
    ) as entries
    where first_at < (select ends from stg_week_list)[week_no]
),

durations as (  -- the earlier stage: the earliest touch for 'lead', else its first entry
    select
        later.week_start,
        transitions.transition,
        extract(epoch from later.first_at - origin.first_touch_at) / 86400.0 as days
    from later_entries as later
    join transitions on transitions.later_stage = later.stage and transitions.earlier_stage = 'lead'
    join stg_lead_origin as origin on origin.lead_id = later.lead_id
    where later.stage = 'mql'  -- the later stage of 'lead'
      and origin.first_touch_at < later.first_at
    union all
    select
        later.week_start,
        transitions.transition,
        extract(epoch from later.first_at - earlier.first_at) / 86400.0
    from later_entries as later
    join transitions on transitions.later_stage = later.stage and transitions.earlier_stage <> 'lead'
    join stg_first_stage_entry as earlier
      on earlier.lead_id = later.lead_id
     and earlier.stage = transitions.earlier_stage
    where later.stage <> 'mql'
      and earlier.first_at < later.first_at
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
