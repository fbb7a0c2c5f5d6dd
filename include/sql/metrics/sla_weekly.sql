-- sla_weekly: for each computed week (stg_weeks), per team and rep (the item's rep now, and that
-- rep's team in reps; '(none)' for items nobody holds), the sales_queue items whose SLA deadline
-- (due_at) falls in the week:
--   items_due: how many; met, breached: of those, how many sales_queue.sla_outcome says were met
--     (the rep's first action at or before the deadline) or breached (no action by then);
--     items with neither are not decided yet.
--   median_business_hours_to_first_action: filled by funnelflow.metrics.compute from
--     sla_first_actions.sql (business hours need the rep's calendar from config/sales_team.yaml).
-- Needs stg_weeks.
with items_due as (
    select
        stg_weeks.week_start,
        coalesce(reps.team, '(none)') as team,
        coalesce(sales_queue.rep_id, '(none)') as rep_id,
        sales_queue.sla_outcome
    from stg_weeks
    join sales_queue
      on sales_queue.due_at >= stg_weeks.starts_at
     and sales_queue.due_at < stg_weeks.ends_at
    left join reps on reps.id = sales_queue.rep_id
)

select
    week_start,
    team,
    rep_id,
    count(*) as items_due,
    count(case when sla_outcome = 'met' then 1 end) as met,
    count(case when sla_outcome = 'breached' then 1 end) as breached
from items_due
group by week_start, team, rep_id
