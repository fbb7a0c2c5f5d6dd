-- Data-quality check (SQLValueCheckOperator, pass value 0): in every computed week, the rejected
-- handoffs of sla_rejections_weekly (summed over reasons, per dimension and value) are the
-- rejected handoffs of funnel_weekly for the same origin, and no origin has rejections in one
-- table only.
with by_reason as (
    select week_start, dimension, value, sum(rejected) as rejected
    from sla_rejections_weekly
    group by week_start, dimension, value
),

by_origin as (
    select week_start, dimension, value, rejected
    from funnel_weekly
    where rejected > 0
)

select count(*) as mismatches
from (
    select by_reason.week_start
    from by_reason
    left join by_origin
      on by_origin.week_start = by_reason.week_start
     and by_origin.dimension = by_reason.dimension
     and by_origin.value = by_reason.value
    where by_origin.rejected is null or by_origin.rejected <> by_reason.rejected
    union all
    select by_origin.week_start
    from by_origin
    left join by_reason
      on by_reason.week_start = by_origin.week_start
     and by_reason.dimension = by_origin.dimension
     and by_reason.value = by_origin.value
    where by_reason.week_start is null
) as mismatched
