-- stg_week_list (PostgreSQL): the computed weeks in order, as arrays, one row. The PostgreSQL marts
-- find each fact's week with width_bucket over `starts` (a week's number is its place here; the
-- fact counts when it comes before `ends` at that place) and name it from `week_starts`.
-- Needs stg_weeks.
select
    array_agg(week_start order by starts_at) as week_starts,
    array_agg(starts_at order by starts_at) as starts,
    array_agg(ends_at order by starts_at) as ends
from stg_weeks
