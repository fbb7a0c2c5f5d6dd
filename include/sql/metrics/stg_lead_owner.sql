-- stg_lead_owner: every lead merged into another, with the surviving lead its rows count for.
-- Leads merged into another are never counted themselves; their touches and stage changes are
-- the survivor's. Chains are followed (a survivor later merged itself passes its leads on).
-- funnelflow.metrics keeps this as a temporary table for the marts in this folder.
with recursive merge_chain (lead_id, owner_id, depth) as (
    select id, merged_into_id, 1
    from leads
    where merged_into_id is not null
    union all
    select merge_chain.lead_id, leads.merged_into_id, merge_chain.depth + 1
    from merge_chain
    join leads on leads.id = merge_chain.owner_id
    where leads.merged_into_id is not null
      and merge_chain.depth < 50  -- a cycle (never written by merges) cannot loop forever
),

chain_end as (
    select lead_id, max(depth) as depth
    from merge_chain
    group by lead_id
)

select merge_chain.lead_id, merge_chain.owner_id
from merge_chain
join chain_end
  on chain_end.lead_id = merge_chain.lead_id
 and chain_end.depth = merge_chain.depth
