-- The consents a staged ingestion batch brings (one row per person and status: the first arrival's).
-- An import never overrides a consent status a person already has, except to record a refusal, so an old
-- list cannot re-subscribe someone who opted out; web-form opt-ins (parameter always) are appended.
with arrival_consents as (
    select p.lead_id, p.is_new, coalesce(a.consent_status, :default_status) as status,
           coalesce(a.legal_basis, :default_basis,
                    case when coalesce(a.consent_status, :default_status) = 'granted' then 'consent' end) as legal_basis,
           a.client_ip, a.occurred_at,
           row_number() over (partition by p.lead_id, coalesce(a.consent_status, :default_status) order by a.pos) as nth
    from ingest_arrivals as a
    join ingest_people_resolved as p on p.match_key = a.match_key
    where p.lead_id is not null and coalesce(a.consent_status, :default_status) is not null
),

first_per_person_and_status as (
    select lead_id, is_new, status, legal_basis, client_ip, occurred_at
    from arrival_consents
    where nth = 1
)

insert into consents (lead_id, channel, status, legal_basis, source, wording_version, client_ip, recorded_at)
select lead_id, 'email', status, legal_basis, :source, :wording_version, client_ip, occurred_at
from first_per_person_and_status as s
where :always or status in ('denied', 'withdrawn')
   -- a person with no consent row at all has no current consent yet (a lead this batch created has none:
   -- no need to look)
   or s.is_new
   or not exists (select 1 from consents as c where c.lead_id = s.lead_id and c.channel = 'email')
