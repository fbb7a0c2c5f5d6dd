-- The CTI screen of a caller, in one round trip while the phone rings: the lead that a phone
-- number (E.164) or an email key names, followed through merges to the survivor and never an
-- erased person; its account, its latest open queue item, and its last touches.
-- Parameters phone_e164 and email_key: the request gives one, the other is null.
-- SQLite aggregates in no promised order, so each touch carries its position.
with recursive
named_leads as (
    -- every lead the number or the address names (a merged-away lead keeps its number)
    select id, merged_into_id, erased_at, updated_at from leads where phone_e164 = :phone_e164
    union
    select id, merged_into_id, erased_at, updated_at from leads where email_key = :email_key
),

candidates as (
    -- live leads before merged-away ones, then the most recently updated; erased ones never count
    select
        id,
        merged_into_id,
        row_number() over (order by merged_into_id is not null, updated_at desc, id) as preference
    from named_leads
    where erased_at is null
    order by preference
    limit 5
),

merge_chain as (
    -- each candidate followed through merged_into_id, at most 20 hops
    select preference, id as lead_id, merged_into_id, null as erased_at, 0 as hops
    from candidates
    union all
    select chain.preference, survivor.id, survivor.merged_into_id, survivor.erased_at, chain.hops + 1
    from merge_chain as chain
    join leads as survivor on survivor.id = chain.merged_into_id
    where chain.hops < 20
),

caller as (
    -- the first candidate whose survivor is not erased
    select lead_id
    from merge_chain
    where (merged_into_id is null or hops = 20) and erased_at is null
    order by preference
    limit 1
),

open_item as (
    select item.id, item.kind, item.status, item.rep_id, item.due_at
    from caller
    join sales_queue as item on item.lead_id = caller.lead_id
    where item.status in ('open', 'accepted')
    order by item.id desc
    limit 1
),

recent_touches as (
    -- the last 20 touches: the screen shows five, the lead's words come from any of them
    select
        row_number() over (order by touch.occurred_at desc, touch.id desc) as position,
        substr(touch.occurred_at, 1, 10) as occurred_on,
        touch.touch_type,
        touch.page_url,
        json_extract(touch.detail, '$.message') as message
    from caller
    join touchpoints as touch on touch.lead_id = caller.lead_id
    order by touch.occurred_at desc, touch.id desc
    limit 20
)

select
    lead.id,
    lead.first_name,
    lead.last_name,
    lead.company,
    lead.job_title,
    lead.country,
    lead.fit_grade,
    lead.engagement_score,
    lead.lifecycle_stage,
    lead.score_breakdown,
    lead.account_id,
    lead.owner_rep_id,
    account.owner_rep_id as account_owner,
    account.name as account_name,
    account.industry,
    account.employee_band,
    account.revenue_band,
    account.country as account_country,
    open_item.id as item_id,
    open_item.kind as item_kind,
    open_item.status as item_status,
    open_item.rep_id as item_rep_id,
    open_item.due_at as item_due_at,
    (
        select json_group_array(json_array(position, occurred_on, touch_type, page_url, message))
        from recent_touches
    ) as touches
from caller
join leads as lead on lead.id = caller.lead_id
left join accounts as account on account.id = lead.account_id
left join open_item on 1 = 1
