-- metrics_first_stage_entry: each counted lead's first entry into each lifecycle stage, for the
-- leads in stg_refresh_leads (lifecycle_history, merged leads' rows included: a merged lead's rows
-- count for its survivor). funnelflow.metrics.origins keeps the table metrics_first_stage_entry
-- with it: stg_refresh_leads holds the leads whose rows changed since the last refresh and their
-- survivors, or, for a full build, every counted lead. A lead in it that is merged into another
-- gets no rows. The marts read the table as stg_first_stage_entry.
-- Needs stg_lead_owner and stg_refresh_leads.
with members as (  -- whose stage changes count for each lead refreshed: its own (if counted) and its merged leads'
    select stg_refresh_leads.lead_id, stg_refresh_leads.lead_id as owner_id
    from stg_refresh_leads
    where not exists (select 1 from stg_lead_owner where stg_lead_owner.lead_id = stg_refresh_leads.lead_id)
    union all
    select stg_lead_owner.lead_id, stg_lead_owner.owner_id
    from stg_lead_owner
    join stg_refresh_leads on stg_refresh_leads.lead_id = stg_lead_owner.owner_id
),

owned_stage_changes as (
    select
        members.owner_id as lead_id,
        lifecycle_history.to_stage,
        lifecycle_history.changed_at
    from members
    join lifecycle_history on lifecycle_history.lead_id = members.lead_id
)

select
    lead_id,
    to_stage as stage,
    min(changed_at) as first_at
from owned_stage_changes
group by lead_id, to_stage
