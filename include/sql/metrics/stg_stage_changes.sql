-- stg_stage_changes: the lifecycle_history rows of the weeks computed (binds from_at, to_at: the
-- first week's start, the last week's end), each as the counted lead's (merged leads' rows count
-- for their survivor). Kept as a temporary table indexed by changed_at, so each week of a
-- backfill reads only its own rows. (First entries into a stage need all history: they are the
-- maintained table metrics_first_stage_entry, read as stg_first_stage_entry.)
-- Needs stg_lead_owner.
select
    coalesce(stg_lead_owner.owner_id, lifecycle_history.lead_id) as lead_id,
    lifecycle_history.to_stage,
    lifecycle_history.changed_at
from lifecycle_history
left join stg_lead_owner on stg_lead_owner.lead_id = lifecycle_history.lead_id
where lifecycle_history.changed_at >= :from_at
  and lifecycle_history.changed_at < :to_at
