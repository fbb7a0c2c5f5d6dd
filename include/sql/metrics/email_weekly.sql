-- email_weekly: for each computed week (stg_weeks), per campaign (email_sends.campaign_id,
-- '(none)' without one):
--   sent: ledger rows whose sent_at falls in the week;
--   delivered, bounced, unique_opens, unique_clicks, unsubscribes, spam_reports: the ledger
--   sends with at least one such SendGrid event in the week (unique per send). Opens and clicks
--   count only those a person made (see stg_email_events: no machine opens, no link scanners);
--   unsubscribes count 'unsubscribe' and 'group_unsubscribe'.
-- Needs stg_weeks, stg_email_sends and stg_email_events.
-- SQLite runs this file; PostgreSQL runs email_weekly.postgresql.sql beside it (the same rows, computed
-- for a year of weeks without a range join per week: see its header).
with sends_in_week as (
    select stg_weeks.week_start, stg_email_sends.campaign, count(*) as sent
    from stg_weeks
    join stg_email_sends
      on stg_email_sends.sent_at >= stg_weeks.starts_at
     and stg_email_sends.sent_at < stg_weeks.ends_at
    group by stg_weeks.week_start, stg_email_sends.campaign
),

send_figures as (  -- each send once per figure it reached in the week
    select distinct
        stg_weeks.week_start,
        stg_email_events.campaign,
        stg_email_events.send_id,
        case stg_email_events.event
            when 'delivered' then 'delivered'
            when 'bounce' then 'bounced'
            when 'open' then 'unique_opens'
            when 'click' then 'unique_clicks'
            when 'unsubscribe' then 'unsubscribes'
            when 'group_unsubscribe' then 'unsubscribes'
            when 'spamreport' then 'spam_reports'
        end as figure
    from stg_weeks
    join stg_email_events
      on stg_email_events.occurred_at >= stg_weeks.starts_at
     and stg_email_events.occurred_at < stg_weeks.ends_at
    where stg_email_events.by_a_person or stg_email_events.event not in ('open', 'click')
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
        count(case when figure = 'delivered' then 1 end),
        count(case when figure = 'bounced' then 1 end),
        count(case when figure = 'unique_opens' then 1 end),
        count(case when figure = 'unique_clicks' then 1 end),
        count(case when figure = 'unsubscribes' then 1 end),
        count(case when figure = 'spam_reports' then 1 end)
    from send_figures
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
