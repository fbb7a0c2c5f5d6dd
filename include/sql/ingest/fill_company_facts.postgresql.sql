-- Fill each resolved lead's blank company facts from the staged ones and record their source.
-- Both dialects read the old row in SET, so "was blank" is tested against the value before this
-- statement. The typed parameter is the field_sources entry ({"source": "typed", ...}).
-- On PostgreSQL null keys are stripped before the merge, and ingest_resolved holds every person's lead.
with facts as (
    select r.lead_id, c.industry, c.employee_count, c.employee_band, c.annual_revenue, c.revenue_band
    from ingest_company c
    join ingest_resolved r on r.match_key = c.match_key
)
update leads set
    industry = coalesce(leads.industry, f.industry),
    employee_count = coalesce(leads.employee_count, f.employee_count),
    employee_band = coalesce(leads.employee_band, f.employee_band),
    annual_revenue = coalesce(leads.annual_revenue, f.annual_revenue),
    revenue_band = coalesce(leads.revenue_band, f.revenue_band),
    field_sources = coalesce(leads.field_sources, jsonb_build_object()) || jsonb_strip_nulls(jsonb_build_object(
        'industry', case when leads.industry is null and f.industry is not null then cast(:typed as jsonb) end,
        'employee_count',
        case when leads.employee_count is null and f.employee_count is not null then cast(:typed as jsonb) end,
        'employee_band',
        case when leads.employee_band is null and f.employee_band is not null then cast(:typed as jsonb) end,
        'annual_revenue',
        case when leads.annual_revenue is null and f.annual_revenue is not null then cast(:typed as jsonb) end,
        'revenue_band',
        case when leads.revenue_band is null and f.revenue_band is not null then cast(:typed as jsonb) end
    ))
from facts f
where f.lead_id = leads.id and leads.erased_at is null
  and (   (leads.industry is null and f.industry is not null)
       or (leads.employee_count is null and f.employee_count is not null)
       or (leads.employee_band is null and f.employee_band is not null)
       or (leads.annual_revenue is null and f.annual_revenue is not null)
       or (leads.revenue_band is null and f.revenue_band is not null))
