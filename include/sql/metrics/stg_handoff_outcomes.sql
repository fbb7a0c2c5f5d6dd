-- stg_handoff_outcomes: every outcome a rep recorded on a handoff (a sales_queue item of kind
-- 'handoff'): 'accepted' or 'rejected', when (the sales_queue_history row of that action) and,
-- for a rejection, its reason (sales_queue.outcome_reason; 'other' without one). The lead is the
-- counted lead (merged leads' items count for their survivor). Kept as a temporary table
-- indexed by decided_at, so each week of a backfill reads only its own rows.
-- Needs stg_lead_owner.
select
    sales_queue.id as item_id,
    coalesce(stg_lead_owner.owner_id, sales_queue.lead_id) as lead_id,
    sales_queue_history.action as outcome,
    case
        when sales_queue_history.action = 'rejected' then coalesce(sales_queue.outcome_reason, 'other')
    end as reason,
    sales_queue_history.at as decided_at
from sales_queue_history
join sales_queue on sales_queue.id = sales_queue_history.item_id
left join stg_lead_owner on stg_lead_owner.lead_id = sales_queue.lead_id
where sales_queue.kind = 'handoff'
  and sales_queue_history.action in ('accepted', 'rejected')
