-- stg_email_sends: every ledger row that was sent, with its campaign ('(none)' without one).
-- Kept as a temporary table indexed by sent_at, so each week of a backfill reads only its rows.
select
    coalesce(campaign_id, '(none)') as campaign,
    sent_at
from email_sends
where sent_at is not null
