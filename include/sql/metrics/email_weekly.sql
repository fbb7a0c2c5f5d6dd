-- email_weekly: per campaign (email_sends.campaign_id, '(none)' without one):
--   sent: ledger rows whose sent_at falls in the week;
--   delivered, bounced, unique_opens, unique_clicks, unsubscribes, spam_reports: the ledger
--   sends with at least one such SendGrid event in the week (unique per send). Opens exclude
--   machine opens (email_events.machine_open); clicks count only those email_engagement
--   recorded as a scored (human) click touchpoint, so link-scanner clicks are left out.
--   unsubscribes count 'unsubscribe' and 'group_unsubscribe'. Events naming no ledger send
--   have no campaign and are not counted.
-- Binds: week_start, starts_at, ends_at.
with sends_in_week as (
    select coalesce(campaign_id, '(none)') as campaign, count(*) as sent
    from email_sends
    where sent_at >= :starts_at
      and sent_at < :ends_at
    group by coalesce(campaign_id, '(none)')
),

events_in_week as (
    select
        coalesce(email_sends.campaign_id, '(none)') as campaign,
        email_events.send_id,
        email_events.event,
        email_events.machine_open,
        email_events.sg_event_id
    from email_events
    join email_sends on email_sends.id = email_events.send_id
    where email_events.occurred_at >= :starts_at
      and email_events.occurred_at < :ends_at
      and email_events.event in ('delivered', 'bounce', 'open', 'click', 'unsubscribe', 'group_unsubscribe', 'spamreport')
),

human_clicks as (
    select events_in_week.campaign, events_in_week.send_id
    from events_in_week
    join touchpoints on touchpoints.source_ref = 'sendgrid:' || events_in_week.sg_event_id
    where events_in_week.event = 'click'
      and touchpoints.scored
),

campaign_figures as (
    select campaign, sent, 0 as delivered, 0 as bounced, 0 as unique_opens, 0 as unique_clicks,
           0 as unsubscribes, 0 as spam_reports
    from sends_in_week
    union all
    select
        campaign,
        0,
        count(distinct case when event = 'delivered' then send_id end),
        count(distinct case when event = 'bounce' then send_id end),
        count(distinct case when event = 'open' and not machine_open then send_id end),
        0,
        count(distinct case when event in ('unsubscribe', 'group_unsubscribe') then send_id end),
        count(distinct case when event = 'spamreport' then send_id end)
    from events_in_week
    group by campaign
    union all
    select campaign, 0, 0, 0, 0, count(distinct send_id), 0, 0
    from human_clicks
    group by campaign
)

select
    :week_start as week_start,
    campaign,
    sum(sent) as sent,
    sum(delivered) as delivered,
    sum(bounced) as bounced,
    sum(unique_opens) as unique_opens,
    sum(unique_clicks) as unique_clicks,
    sum(unsubscribes) as unsubscribes,
    sum(spam_reports) as spam_reports
from campaign_figures
group by campaign
