-- What the send policy needs about a chunk of recipients, in one round trip (PostgreSQL): per candidate,
-- its suppression reasons (of the scopes that stop this kind of message: parameter scopes), whether its lead is erased, and (marketing only) its recent marketing sends.
-- The candidates arrive as two comma-joined strings (parameters hashes and lead_ids; position n of each is candidate n):
-- one text parameter is sent as is, while a list would be dumped element by element. Consent is not here:
-- funnelflow.consent answers it. Each lookup is a correlated index probe (suppressions by email_hash,
-- leads by id, email_sends by recipient_hash); a CASE runs its subquery only when taken.
with candidates as (
    select c.ord, c.h, c.lead_id
    from unnest(string_to_array(:hashes, ','), cast(string_to_array(:lead_ids, ',', '') as bigint[]))
        with ordinality as c(h, lead_id, ord)
),

candidate_facts as (
    select
        c.ord,
        (
            select array_agg(s.reason)
            from suppressions as s
            where s.email_hash = c.h
              and s.scope = any(cast(:scopes as text[]))
        ) as reasons,
        coalesce((select l.erased_at is not null from leads as l where l.id = c.lead_id), false) as erased,
        case when :marketing then (
            select count(*)
            from email_sends as e
            where e.recipient_hash = c.h
              and e.kind = 'marketing'
              and e.status = any(cast(:counted as text[]))
              and e.claimed_at >= :since
        ) else 0 end as recent
    from candidates as c
)

select ord, reasons, erased, recent
from candidate_facts
