-- stg_first_stage_entry: each counted lead's first entry into each lifecycle stage
-- (lifecycle_history, merged leads' rows included).
-- Needs stg_stage_changes.
select
    lead_id,
    to_stage as stage,
    min(changed_at) as first_at
from stg_stage_changes
group by lead_id, to_stage
