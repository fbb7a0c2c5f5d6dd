-- metrics_first_stage_entry_refresh: metrics_first_stage_entry's rows (see
-- metrics_first_stage_entry.sql) for the leads in stg_refresh_leads only: the leads whose rows
-- changed since the last refresh and their survivors (funnelflow.metrics.origins). A lead
-- refreshed that is merged into another gets no rows; its stage changes count for its survivor.
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
