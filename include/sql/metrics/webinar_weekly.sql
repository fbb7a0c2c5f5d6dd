-- webinar_weekly: per webinar held in a computed week (stg_weeks; webinars.starts_at in the week,
-- not cancelled), its slug and title, and the people (as recorded when the week is computed):
--   invited: distinct leads sent an invitation wave of it (email_sends with template
--     'webinar_invitation' and campaign_id = the slug, sent_at set)
--   registered: registrations that held a seat (status registered, attended or no_show)
--   waitlisted: registrations still on the waitlist (never seated)
--   attended, no_show: registrations with that status (from the attendance report)
-- Cancelled registrations count in none of them. Needs stg_weeks.
with held as (
    select stg_weeks.week_start, webinars.id, webinars.slug, webinars.title
    from stg_weeks
    join webinars
      on webinars.starts_at >= stg_weeks.starts_at
     and webinars.starts_at < stg_weeks.ends_at
    where webinars.status <> 'cancelled'
),

invitations as (
    select held.id as webinar_id, count(distinct email_sends.lead_id) as invited
    from held
    join email_sends
      on email_sends.campaign_id = held.slug
     and email_sends.template = 'webinar_invitation'
    where email_sends.sent_at is not null
    group by held.id
),

registrations as (
    select
        webinar_id,
        count(case when status in ('registered', 'attended', 'no_show') then 1 end) as registered,
        count(case when status = 'waitlisted' then 1 end) as waitlisted,
        count(case when status = 'attended' then 1 end) as attended,
        count(case when status = 'no_show' then 1 end) as no_show
    from webinar_registrations
    where webinar_id in (select id from held)
    group by webinar_id
)

select
    held.week_start,
    held.slug as webinar_id,
    held.title as webinar_name,
    coalesce(invitations.invited, 0) as invited,
    coalesce(registrations.registered, 0) as registered,
    coalesce(registrations.waitlisted, 0) as waitlisted,
    coalesce(registrations.attended, 0) as attended,
    coalesce(registrations.no_show, 0) as no_show
from held
left join invitations on invitations.webinar_id = held.id
left join registrations on registrations.webinar_id = held.id
