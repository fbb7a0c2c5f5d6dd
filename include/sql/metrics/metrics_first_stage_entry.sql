-- metrics_first_stage_entry (full build): each counted lead's first entry into each lifecycle
-- stage (lifecycle_history, merged leads' rows included: a merged lead's rows count for its
-- survivor). funnelflow.metrics.origins builds the maintained table metrics_first_stage_entry
-- from this when it is empty or cannot be brought up to date lead by lead
-- (metrics_first_stage_entry_refresh.sql does the leads that changed); the marts read it as
-- stg_first_stage_entry.
-- Needs stg_lead_owner.
with owned_stage_changes as (
    select
        coalesce(stg_lead_owner.owner_id, lifecycle_history.lead_id) as lead_id,
        lifecycle_history.to_stage,
        lifecycle_history.changed_at
    from lifecycle_history
    left join stg_lead_owner on stg_lead_owner.lead_id = lifecycle_history.lead_id
)

select
    lead_id,
    to_stage as stage,
    min(changed_at) as first_at
from owned_stage_changes
group by lead_id, to_stage
