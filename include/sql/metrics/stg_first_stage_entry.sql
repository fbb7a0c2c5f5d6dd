-- stg_first_stage_entry: each counted lead's first entry into each lifecycle stage
-- (lifecycle_history, merged leads' rows included).
-- Needs stg_lead_owner.
select
    coalesce(stg_lead_owner.owner_id, lifecycle_history.lead_id) as lead_id,
    lifecycle_history.to_stage as stage,
    min(lifecycle_history.changed_at) as first_at
from lifecycle_history
left join stg_lead_owner on stg_lead_owner.lead_id = lifecycle_history.lead_id
group by coalesce(stg_lead_owner.owner_id, lifecycle_history.lead_id), lifecycle_history.to_stage
