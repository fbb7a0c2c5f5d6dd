-- stg_email_sends: every ledger row that was sent, with its campaign ('(none)' without one).
-- Kept as a temporary table indexed by sent_at, so each week of a backfill reads only its rows;
-- only the sends of the weeks computed (binds from_at, to_at: the first week's start, the last
-- week's end) are kept.
select
    coalesce(campaign_id, '(none)') as campaign,
    sent_at
from email_sends
where sent_at >= :from_at
  and sent_at < :to_at
