-- stg_email_events: the SendGrid events the email figures count, with the campaign of the ledger
-- send they name (events naming no ledger send have no campaign and are left out), and whether a
-- person did it: opens that are not machine opens (email_events.machine_open), clicks that
-- email_engagement recorded as a scored touchpoint (link scanners are kept unscored; the
-- touchpoint is looked up for clicks only); every other event counts as is. Kept as a temporary
-- table indexed by occurred_at; only the events of the weeks computed (binds from_at, to_at: the
-- first week's start, the last week's end).
select
    coalesce(email_sends.campaign_id, '(none)') as campaign,
    email_events.send_id,
    email_events.event,
    email_events.occurred_at,
    case
        when email_events.event = 'open' then not email_events.machine_open
        when email_events.event = 'click' then coalesce(
            (
                select touchpoints.scored
                from touchpoints
                where touchpoints.source_ref = 'sendgrid:' || email_events.sg_event_id
            ),
            false
        )
        else true
    end as by_a_person
from email_events
join email_sends on email_sends.id = email_events.send_id
where email_events.occurred_at >= :from_at
  and email_events.occurred_at < :to_at
  and email_events.event in ('delivered', 'bounce', 'open', 'click', 'unsubscribe', 'group_unsubscribe', 'spamreport')
