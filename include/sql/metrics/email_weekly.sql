-- email_weekly: for each computed week (stg_weeks), per campaign (email_sends.campaign_id,
-- '(none)' without one):
--   sent: ledger rows whose sent_at falls in the week;
--   delivered, bounced, unique_opens, unique_clicks, unsubscribes, spam_reports: the ledger
--   sends with at least one such SendGrid event in the week (unique per send). Opens and clicks
--   count only those a person made (see stg_email_events: no machine opens, no link scanners);
--   unsubscribes count 'unsubscribe' and 'group_unsubscribe'.
-- Needs stg_weeks, stg_email_sends and stg_email_events.
with sends_in_week as (
    select stg_weeks.week_start, stg_email_sends.campaign, count(*) as sent
    from stg_weeks
    join stg_email_sends
      on stg_email_sends.sent_at >= stg_weeks.starts_at
     and stg_email_sends.sent_at < stg_weeks.ends_at
    group by stg_weeks.week_start, stg_email_sends.campaign
),

events_in_week as (
    select
        stg_weeks.week_start,
        stg_email_events.campaign,
        stg_email_events.send_id,
        stg_email_events.event,
        stg_email_events.by_a_person
    from stg_weeks
    join stg_email_events
      on stg_email_events.occurred_at >= stg_weeks.starts_at
     and stg_email_events.occurred_at < stg_weeks.ends_at
),

campaign_figures as (
    select week_start, campaign, sent, 0 as delivered, 0 as bounced, 0 as unique_opens, 0 as unique_clicks,
           0 as unsubscribes, 0 as spam_reports
    from sends_in_week
    union all
    select
        week_start,
        campaign,
        0,
        count(distinct case when event = 'delivered' then send_id end),
        count(distinct case when event = 'bounce' then send_id end),
        count(distinct case when event = 'open' and by_a_person then send_id end),
        count(distinct case when event = 'click' and by_a_person then send_id end),
        count(distinct case when event in ('unsubscribe', 'group_unsubscribe') then send_id end),
        count(distinct case when event = 'spamreport' then send_id end)
    from events_in_week
    group by week_start, campaign
)

select
    week_start,
    campaign,
    sum(sent) as sent,
    sum(delivered) as delivered,
    sum(bounced) as bounced,
    sum(unique_opens) as unique_opens,
    sum(unique_clicks) as unique_clicks,
    sum(unsubscribes) as unsubscribes,
    sum(spam_reports) as spam_reports
from campaign_figures
group by week_start, campaign
