-- sla_first_actions: the items of sla_weekly (SLA deadline in the week) that a rep has acted on,
-- with what the business hours from assignment to first action need: the rep's team, time zone
-- and holiday calendar. funnelflow.metrics.compute takes the median per team and rep.
-- Binds: starts_at, ends_at.
select
    coalesce(reps.team, '(none)') as team,
    coalesce(sales_queue.rep_id, '(none)') as rep_id,
    reps.timezone,
    reps.calendar,
    coalesce(sales_queue.assigned_at, sales_queue.entered_at) as assigned_at,
    sales_queue.first_action_at
from sales_queue
left join reps on reps.id = sales_queue.rep_id
where sales_queue.due_at >= :starts_at
  and sales_queue.due_at < :ends_at
  and sales_queue.first_action_at is not null
