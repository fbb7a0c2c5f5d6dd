-- PostgreSQL: the staged people without an email key, for the general path (lookups by phone or the
-- source's id, new leads, blanks filled), which then scans these few rows instead of every person.
insert into ingest_people
select *
from ingest_all_people
where email_key is null
