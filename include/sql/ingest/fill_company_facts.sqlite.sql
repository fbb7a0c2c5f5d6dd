-- Fill each resolved lead's blank company facts from the staged ones and record their source.
-- Both dialects read the old row in SET, so "was blank" is tested against the value before this
-- statement. The typed parameter is the field_sources entry ({"source": "typed", ...}).
-- On SQLite json_patch would delete a key patched with null, so each fact patches with an
-- object or with an empty one.
with facts as (
    select coalesce(r.lead_id, p.lead_id) as lead_id, c.industry, c.employee_count, c.employee_band,
           c.annual_revenue, c.revenue_band
    from ingest_company c
    join ingest_people p on p.match_key = c.match_key
    left join ingest_resolved r on r.match_key = c.match_key
)
update leads set
    industry = coalesce(leads.industry, f.industry),
    employee_count = coalesce(leads.employee_count, f.employee_count),
    employee_band = coalesce(leads.employee_band, f.employee_band),
    annual_revenue = coalesce(leads.annual_revenue, f.annual_revenue),
    revenue_band = coalesce(leads.revenue_band, f.revenue_band),
    field_sources = json_patch(json_patch(json_patch(json_patch(json_patch(coalesce(leads.field_sources, json_object()),
        case when leads.industry is null and f.industry is not null
             then json_object('industry', json(:typed)) else json_object() end),
        case when leads.employee_count is null and f.employee_count is not null
             then json_object('employee_count', json(:typed)) else json_object() end),
        case when leads.employee_band is null and f.employee_band is not null
             then json_object('employee_band', json(:typed)) else json_object() end),
        case when leads.annual_revenue is null and f.annual_revenue is not null
             then json_object('annual_revenue', json(:typed)) else json_object() end),
        case when leads.revenue_band is null and f.revenue_band is not null
             then json_object('revenue_band', json(:typed)) else json_object() end)
from facts f
where f.lead_id = leads.id and leads.erased_at is null
  and (   (leads.industry is null and f.industry is not null)
       or (leads.employee_count is null and f.employee_count is not null)
       or (leads.employee_band is null and f.employee_band is not null)
       or (leads.annual_revenue is null and f.annual_revenue is not null)
       or (leads.revenue_band is null and f.revenue_band is not null))
