-- stg_stage_changes: every lifecycle_history row as the counted lead's (merged leads' rows
-- count for their survivor). Kept as a temporary table indexed by changed_at, so each week of a
-- backfill reads only its own rows.
-- Needs stg_lead_owner.
select
    coalesce(stg_lead_owner.owner_id, lifecycle_history.lead_id) as lead_id,
    lifecycle_history.to_stage,
    lifecycle_history.changed_at
from lifecycle_history
left join stg_lead_owner on stg_lead_owner.lead_id = lifecycle_history.lead_id
