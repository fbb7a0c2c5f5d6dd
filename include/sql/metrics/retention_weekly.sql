-- retention_weekly: one row per computed week (stg_weeks).
--   renewals_due: opportunities won whose renewal_date (a date) falls in the week (Monday to Sunday)
--   renewals_won: opportunities of kind 'renewal' closed won in the week
--   renewal_rate: renewals_won / renewals_due; NULL ("no data") when nothing was due
--   upsell_revenue: the amounts of opportunities of kind 'upsell' closed won in the week
-- Needs stg_weeks and stg_won_opportunities.
with due as (
    select stg_weeks.week_start, count(opportunities.id) as renewals_due
    from stg_weeks
    left join opportunities
      on opportunities.stage = 'won'
     and opportunities.renewal_date >= stg_weeks.week_start
     and opportunities.renewal_date < stg_weeks.next_week_start
    group by stg_weeks.week_start
),

won as (
    select
        stg_weeks.week_start,
        count(case when stg_won_opportunities.kind = 'renewal' then 1 end) as renewals_won,
        coalesce(sum(case when stg_won_opportunities.kind = 'upsell' then stg_won_opportunities.amount end), 0)
            as upsell_revenue
    from stg_weeks
    left join stg_won_opportunities
      on stg_won_opportunities.closed_at >= stg_weeks.starts_at
     and stg_won_opportunities.closed_at < stg_weeks.ends_at
    group by stg_weeks.week_start
)

select
    due.week_start,
    due.renewals_due,
    won.renewals_won,
    case when due.renewals_due > 0 then 1.0 * won.renewals_won / due.renewals_due end as renewal_rate,
    won.upsell_revenue
from due
join won on won.week_start = due.week_start
