-- The batch's counts without reading rows back: a lead created in this batch is one "inserted"; every other
-- resolved arrival is "updated"; arrivals whose person could not be resolved are set aside.
select coalesce(sum(case when lead_id is not null then arrivals else 0 end), 0) as resolved,
       coalesce(sum(case when lead_id is null then arrivals else 0 end), 0) as unresolved,
       count(distinct case when is_new then lead_id end) as created
from ingest_people_resolved
