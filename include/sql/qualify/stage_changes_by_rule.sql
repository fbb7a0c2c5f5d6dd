-- Lifecycle moves per day, from/to stage and the rule that caused them ("rule @rules-version"),
-- from the parameter since up to until. The funnel a marketing-ops person checks after changing a rules file.
with moves as (
    select
        date(changed_at) as day,
        from_stage,
        to_stage,
        reason as rule
    from lifecycle_history
    where changed_at >= :since
      and changed_at < :until
)

select day, from_stage, to_stage, rule, count(*) as leads
from moves
group by day, from_stage, to_stage, rule
order by day, leads desc, rule
