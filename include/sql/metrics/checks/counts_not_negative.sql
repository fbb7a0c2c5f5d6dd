-- Data-quality check (SQLCheckOperator; true = pass): no count or amount is negative, each cohort
-- narrows as it goes (customers <= reached SQL <= reached MQL <= leads), an SLA row decides no
-- more items than were due, a webinar has no more attendees and no-shows than seated people,
-- and a renewal rate is never negative.
with bad_rows as (
    select week_start from funnel_weekly
    where new_leads < 0 or mql < 0 or sql < 0 or opportunity < 0 or customer < 0
       or recycled < 0 or disqualified < 0 or accepted < 0 or rejected < 0 or won_revenue < 0
    union all
    select week_start from funnel_cohorts
    where customer < 0 or customer > sql or sql > mql or mql > leads
    union all
    select week_start from email_weekly
    where sent < 0 or delivered < 0 or bounced < 0 or unique_opens < 0 or unique_clicks < 0
       or unsubscribes < 0 or spam_reports < 0
    union all
    select week_start from attribution_weekly
    where credit < 0 or revenue_credit < 0
    union all
    select week_start from sla_weekly
    where met < 0 or breached < 0 or met + breached > items_due
       or median_business_hours_to_first_action < 0
    union all
    select week_start from sla_rejections_weekly
    where rejected <= 0
    union all
    select week_start from webinar_weekly
    where invited < 0 or waitlisted < 0 or attended < 0 or no_show < 0 or attended + no_show > registered
    union all
    select week_start from retention_weekly
    where renewals_due < 0 or renewals_won < 0 or renewal_rate < 0 or upsell_revenue < 0
)

select count(*) = 0 as counts_not_negative from bad_rows
