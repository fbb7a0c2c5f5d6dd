-- retention_weekly: one row per week.
--   renewals_due: opportunities won whose renewal_date (a date) falls in the week (Monday to Sunday)
--   renewals_won: opportunities of kind 'renewal' closed won in the week
--   renewal_rate: renewals_won / renewals_due; NULL ("no data") when nothing was due
--   upsell_revenue: the amounts of opportunities of kind 'upsell' closed won in the week
-- Binds: week_start, next_week_start (dates), starts_at, ends_at. Needs stg_won_opportunities.
with due as (
    select count(*) as renewals_due
    from opportunities
    where stage = 'won'
      and renewal_date >= :week_start
      and renewal_date < :next_week_start
),

won as (
    select
        count(case when kind = 'renewal' then 1 end) as renewals_won,
        coalesce(sum(case when kind = 'upsell' then amount end), 0) as upsell_revenue
    from stg_won_opportunities
    where closed_at >= :starts_at
      and closed_at < :ends_at
)

select
    :week_start as week_start,
    due.renewals_due,
    won.renewals_won,
    case when due.renewals_due > 0 then 1.0 * won.renewals_won / due.renewals_due end as renewal_rate,
    won.upsell_revenue
from due cross join won
