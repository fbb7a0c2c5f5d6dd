-- The batch's typed company facts, one row per match key (staged like ingest_people).
create temporary table if not exists ingest_company (
    match_key varchar(400) not null, industry varchar(120), employee_count integer, employee_band varchar(40),
    annual_revenue bigint, revenue_band varchar(40)
)
