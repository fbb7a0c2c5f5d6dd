-- The batch's counts without reading rows back: a lead created in this batch is one "inserted"; every other
-- resolved arrival is "updated"; arrivals whose person could not be resolved are set aside. On PostgreSQL
-- the answers are in ingest_resolved, one row per resolved person (a person the upsert left unresolved has
-- no row there). When every staged person has a lead, every arrival is resolved and the arrivals are only
-- counted; they are joined to the answers (arrivals_by_answer) only when someone is not.
with staged_people as (
    select count(*) as people
    from ingest_all_people
),

answers as (
    select count(lead_id) as resolved_people,
           count(distinct case when is_new then lead_id end) as created
    from ingest_resolved
),

staged_arrivals as (
    select count(*) as arrivals
    from ingest_arrivals
),

arrivals_by_answer as (
    select count(p.lead_id) as resolved, count(*) - count(p.lead_id) as unresolved
    from ingest_arrivals as a
    left join ingest_people_resolved as p on p.match_key = a.match_key
)

select case when answers.resolved_people = staged_people.people then staged_arrivals.arrivals
            else (select resolved from arrivals_by_answer) end as resolved,
       case when answers.resolved_people = staged_people.people then 0
            else (select unresolved from arrivals_by_answer) end as unresolved,
       answers.created
from staged_people, answers, staged_arrivals
