-- stg_won_opportunities: every opportunity the CRM reports closed won, with its kind (new,
-- renewal, upsell), its amount (0 without one) and when it closed. The lead is the counted lead
-- (an opportunity of a lead merged into another counts for the survivor; without a lead, NULL).
-- Kept as a temporary table indexed by closed_at.
-- Needs stg_lead_owner.
select
    opportunities.id as opportunity_id,
    coalesce(stg_lead_owner.owner_id, opportunities.lead_id) as lead_id,
    opportunities.kind,
    coalesce(opportunities.amount, 0) as amount,
    opportunities.closed_at
from opportunities
left join stg_lead_owner on stg_lead_owner.lead_id = opportunities.lead_id
where opportunities.stage = 'won'
  and opportunities.closed_at is not null
