-- funnel_velocity (SQLite): the same figures as funnel_velocity.postgresql.sql. SQLite has no
-- percentile_cont, so the linear interpolation is written out: with the n durations sorted
-- (ranks 0..n-1), percentile p sits at position p * (n - 1); the value is the duration at the
-- rank below plus the fraction of the step to the next one.
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
        julianday(later.first_at) - julianday(earlier.first_at) as days
    from transitions
    join stg_first_stage_entry as later
      on later.stage = transitions.later_stage
     and later.first_at >= :starts_at
     and later.first_at < :ends_at
    join earlier_entries as earlier
      on earlier.lead_id = later.lead_id
     and earlier.stage = transitions.earlier_stage
     and earlier.first_at < later.first_at
),

ranked_durations as (
    select
        transition,
        days,
        row_number() over (partition by transition order by days) - 1 as rank0,
        count(*) over (partition by transition) as n
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
    :week_start as week_start,
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
from transitions
left join positions on positions.transition = transitions.transition
group by transitions.transition
