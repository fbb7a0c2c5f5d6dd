-- Why sales rejected marketing's leads, by the lead's original source and the campaign of its
-- latest touch before the handoff: the weekly report's data for agreeing on what a good lead is.
-- Parameters: week_start and week_end (UTC timestamps, bound by the caller).
with rejected as (
    select q.id as item_id, q.lead_id, q.outcome_reason as reason, q.closed_at, q.entered_at
    from sales_queue q
    where q.status = 'rejected'
      and q.closed_at >= :week_start
      and q.closed_at < :week_end
),
last_campaign as (
    select r.item_id, max(t.campaign) as campaign
    from rejected r
    join touchpoints t on t.lead_id = r.lead_id and t.occurred_at <= r.entered_at
    where t.occurred_at = (
        select max(t2.occurred_at) from touchpoints t2
        where t2.lead_id = r.lead_id and t2.occurred_at <= r.entered_at and t2.campaign is not null
    )
    group by r.item_id
)
select
    coalesce(l.original_source, '(unknown)') as source,
    coalesce(c.campaign, '(none)') as campaign,
    r.reason,
    count(*) as rejections
from rejected r
join leads l on l.id = r.lead_id
left join last_campaign c on c.item_id = r.item_id
group by 1, 2, 3
order by rejections desc, source, campaign, reason
