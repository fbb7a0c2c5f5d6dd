-- metrics_first_stage_entry: each counted lead's first entry into each lifecycle stage, for the
-- leads in stg_refresh_leads (lifecycle_history, merged leads' rows included: a merged lead's rows
-- count for its survivor). funnelflow.metrics.origins keeps the table metrics_first_stage_entry
-- with it: stg_refresh_leads holds the leads whose rows changed since the last refresh and their
-- survivors, or, for a full build, every counted lead. A lead in it that is merged into another
-- gets no rows. The marts read the table as stg_first_stage_entry.
-- Needs stg_refresh_members (the members of each lead in stg_refresh_leads).
with owned_stage_changes as (
    select
        stg_refresh_members.owner_id as lead_id,
        lifecycle_history.to_stage,
        lifecycle_history.changed_at
    from stg_refresh_members
    join lifecycle_history on lifecycle_history.lead_id = stg_refresh_members.lead_id
)

select
    lead_id,
    to_stage as stage,
    min(changed_at) as first_at
from owned_stage_changes
group by lead_id, to_stage
