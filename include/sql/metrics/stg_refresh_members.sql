-- stg_refresh_members: whose rows count for each lead in stg_refresh_leads (owner_id): the lead's
-- own, when it is counted (not merged into another), and those of every lead merged into it
-- (lead_id). funnelflow.metrics.origins stages it once per refresh; metrics_lead_origin.sql and
-- metrics_first_stage_entry.sql read it.
-- Needs stg_lead_owner and stg_refresh_leads.
select stg_refresh_leads.lead_id, stg_refresh_leads.lead_id as owner_id
from stg_refresh_leads
where not exists (select 1 from stg_lead_owner where stg_lead_owner.lead_id = stg_refresh_leads.lead_id)

union all

select stg_lead_owner.lead_id, stg_lead_owner.owner_id
from stg_lead_owner
join stg_refresh_leads on stg_refresh_leads.lead_id = stg_lead_owner.owner_id
