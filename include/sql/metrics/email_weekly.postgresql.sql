-- email_weekly (PostgreSQL): the same figures as email_weekly.sql (the definitions are there and
-- in the README), computed for a year of weeks without a range join per week: each send and
-- event finds its week with width_bucket over the computed weeks' starts (the last start at or
-- before it; one at or after that week's end falls between computed weeks and is left out), so
-- the staged sends and events are each read once in their own order.
-- Needs stg_week_list, stg_email_sends and stg_email_events; binds from_at, to_at (the first
-- week's start, the last week's end).
with sends_in_week as (
    select week_no, campaign, count(*) as sent
    from (
        select
            stg_email_sends.campaign,
            stg_email_sends.sent_at,
            width_bucket(stg_email_sends.sent_at, (select starts from stg_week_list)) as week_no
        from stg_email_sends
        where stg_email_sends.sent_at >= :from_at
          and stg_email_sends.sent_at < :to_at
    ) as sends
    where sent_at < (select ends from stg_week_list)[week_no]
    group by week_no, campaign
),

send_figures as (  -- each send once per figure it reached in the week
    select distinct
        week_no,
        campaign,
        send_id,
        case event
            when 'delivered' then 'delivered'
            when 'bounce' then 'bounced'
            when 'open' then 'unique_opens'
            when 'click' then 'unique_clicks'
            when 'unsubscribe' then 'unsubscribes'
            when 'group_unsubscribe' then 'unsubscribes'
            when 'spamreport' then 'spam_reports'
        end as figure
    from (
        select
            stg_email_events.*,
            width_bucket(stg_email_events.occurred_at, (select starts from stg_week_list)) as week_no
        from stg_email_events
        where stg_email_events.occurred_at >= :from_at
          and stg_email_events.occurred_at < :to_at
          and (stg_email_events.by_a_person or stg_email_events.event not in ('open', 'click'))
    ) as events
    where occurred_at < (select ends from stg_week_list)[week_no]
),

campaign_figures as (
    select week_no, campaign, sent, 0 as delivered, 0 as bounced, 0 as unique_opens, 0 as unique_clicks,
           0 as unsubscribes, 0 as spam_reports
    from sends_in_week
    union all
    select
        week_no,
        campaign,
        0,
        count(case when figure = 'delivered' then 1 end),
        count(case when figure = 'bounced' then 1 end),
        count(case when figure = 'unique_opens' then 1 end),
        count(case when figure = 'unique_clicks' then 1 end),
        count(case when figure = 'unsubscribes' then 1 end),
        count(case when figure = 'spam_reports' then 1 end)
    from send_figures
    group by week_no, campaign
)

select
    (select week_starts from stg_week_list)[week_no] as week_start,
    campaign,
    sum(sent) as sent,
    sum(delivered) as delivered,
    sum(bounced) as bounced,
    sum(unique_opens) as unique_opens,
    sum(unique_clicks) as unique_clicks,
    sum(unsubscribes) as unsubscribes,
    sum(spam_reports) as spam_reports
from campaign_figures
group by week_no, campaign
