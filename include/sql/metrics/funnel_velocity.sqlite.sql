-- funnel_velocity (SQLite): the same figures as funnel_velocity.postgresql.sql. SQLite has no
-- percentile_cont, so the linear interpolation is written out: with the n durations sorted
-- (ranks 0..n-1), percentile p sits at position p * (n - 1); the value is the duration at the
-- rank below plus the fraction of the step to the next one.
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
        julianday(later.first_at) - julianday(coalesce(origin.first_touch_at, earlier.first_at)) as days
    from later_entries as later
    left join stg_lead_origin as origin
      on later.earlier_stage = 'lead'
     and origin.lead_id = later.lead_id
    left join stg_first_stage_entry as earlier
      on later.earlier_stage <> 'lead'
     and earlier.lead_id = later.lead_id
     and earlier.stage = later.earlier_stage
    where coalesce(origin.first_touch_at, earlier.first_at) < later.first_at
),

ranked_durations as (
    select
        week_start,
        transition,
        days,
        row_number() over (partition by week_start, transition order by days) - 1 as rank0,
        count(*) over (partition by week_start, transition) as n
    from durations
),

positions as (
    select
        ranked_durations.*,
        0.5 * (n - 1) as p50_pos,
        0.9 * (n - 1) as p90_pos
    from ranked_durations
)

select
    stg_weeks.week_start,
    transitions.transition,
    count(positions.days) as leads,
    sum(
        case
            when positions.rank0 = cast(p50_pos as integer) then days * (1 - (p50_pos - cast(p50_pos as integer)))
            when positions.rank0 = cast(p50_pos as integer) + 1 then days * (p50_pos - cast(p50_pos as integer))
        end
    ) as median_days,
    sum(
        case
            when positions.rank0 = cast(p90_pos as integer) then days * (1 - (p90_pos - cast(p90_pos as integer)))
            when positions.rank0 = cast(p90_pos as integer) + 1 then days * (p90_pos - cast(p90_pos as integer))
        end
    ) as p90_days
from stg_weeks
cross join transitions
left join positions
  on positions.week_start = stg_weeks.week_start
 and positions.transition = transitions.transition
group by stg_weeks.week_start, transitions.transition
