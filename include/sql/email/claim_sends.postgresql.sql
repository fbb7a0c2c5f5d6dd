-- Claim a chunk of sends in the ledger (PostgreSQL) before any is handed to SendGrid: one statement and one
-- JSON parameter (rows) for the whole chunk (serializing JSON is C-fast, a thousand rows of bound parameters
-- is not). A (message key, recipient) already in the ledger, in any state, is left alone and not returned:
-- that message was handled before and is never sent again. claimed_by names the run and task that claimed
-- (a retry of the same task finds its own earlier claims by it).
with chunk_claims as (
    select r.message_key, r.recipient_hash, r.lead_id, r.campaign_id, r.template, r.kind, r.status, r.skip_reason,
           r.variant
    from json_to_recordset(cast(:rows as json)) as r(message_key text, recipient_hash text, lead_id bigint,
        campaign_id text, template text, kind text, status text, skip_reason text, variant text)
)

insert into email_sends (message_key, recipient_hash, lead_id, campaign_id, template, kind, status, skip_reason,
                         variant, claimed_at, claimed_by)
select message_key, recipient_hash, lead_id, campaign_id, template, kind, status, skip_reason,
       variant, :claimed_at, cast(:claimed_by as text)
from chunk_claims
on conflict (message_key, recipient_hash) do nothing
returning id, message_key, recipient_hash, status
