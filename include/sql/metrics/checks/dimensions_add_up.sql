-- Data-quality check (SQLValueCheckOperator, pass value 0): every lead has exactly one channel,
-- source and campaign of origin, so in every week each dimension's values add up to 'all'
-- (handoffs and won revenue included).
with dimension_totals as (
    select
        week_start,
        dimension,
        sum(new_leads) as new_leads,
        sum(mql) as mql,
        sum(sql) as sql,
        sum(opportunity) as opportunity,
        sum(customer) as customer,
        sum(recycled) as recycled,
        sum(disqualified) as disqualified,
        sum(accepted) as accepted,
        sum(rejected) as rejected,
        sum(won_revenue) as won_revenue
    from funnel_weekly
    where dimension <> 'all'
    group by week_start, dimension
),

everyone as (
    select * from funnel_weekly where dimension = 'all'
)

select count(*) as mismatches
from dimension_totals
left join everyone on everyone.week_start = dimension_totals.week_start
where everyone.week_start is null
   or everyone.new_leads <> dimension_totals.new_leads
   or everyone.mql <> dimension_totals.mql
   or everyone.sql <> dimension_totals.sql
   or everyone.opportunity <> dimension_totals.opportunity
   or everyone.customer <> dimension_totals.customer
   or everyone.recycled <> dimension_totals.recycled
   or everyone.disqualified <> dimension_totals.disqualified
   or everyone.accepted <> dimension_totals.accepted
   or everyone.rejected <> dimension_totals.rejected
   or everyone.won_revenue <> dimension_totals.won_revenue
