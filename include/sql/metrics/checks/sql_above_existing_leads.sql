-- Data-quality check (SQLValueCheckOperator, pass value 0): weeks whose SQL count (or any other
-- volume) is above the number of leads that exist (leads merged into another not counted).
with existing as (
    select count(*) as leads from leads where merged_into_id is null
)

select count(*) as weeks_above
from funnel_weekly
cross join existing
where funnel_weekly.dimension = 'all'
  and (
      funnel_weekly.sql > existing.leads
      or funnel_weekly.new_leads > existing.leads
      or funnel_weekly.mql > existing.leads
      or funnel_weekly.customer > existing.leads
  )
