-- Data-quality check (SQLCheckOperator; true = pass): no count is negative, and each cohort
-- narrows as it goes (customers <= reached SQL <= reached MQL <= leads).
with bad_rows as (
    select week_start from funnel_weekly
    where new_leads < 0 or mql < 0 or sql < 0 or opportunity < 0 or customer < 0
       or recycled < 0 or disqualified < 0
    union all
    select week_start from funnel_cohorts
    where customer < 0 or customer > sql or sql > mql or mql > leads
    union all
    select week_start from email_weekly
    where sent < 0 or delivered < 0 or bounced < 0 or unique_opens < 0 or unique_clicks < 0
       or unsubscribes < 0 or spam_reports < 0
    union all
    select week_start from attribution_weekly
    where credit < 0
)

select count(*) = 0 as counts_not_negative from bad_rows
