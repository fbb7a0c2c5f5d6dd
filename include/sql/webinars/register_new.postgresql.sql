-- A new registration in one statement (one round trip): the person, the webinar open for
-- registration, a seat if one is free, the registration row and its webinar_registered touch.
-- The seat is the conditional update that PostgreSQL re-checks after a concurrent writer's row
-- lock, so under any number of concurrent registrations seats_taken never passes capacity.
-- Someone registered already makes the insert fail (unique webinar_id, lead_id): the whole
-- statement, seat included, is undone, and the caller takes the path for known registrations.
-- No row comes back when the lead is missing, erased or merged away, or the webinar takes no
-- registrations: the caller's other path answers those.
with person as (
    select id as lead_id
    from leads
    where id = cast(:lead_id as bigint) and erased_at is null and merged_into_id is null
),

open_webinar as (
    select id
    from webinars
    where slug = cast(:slug as text) and status = 'scheduled' and ends_at > cast(:at as timestamptz)
),

seat as (
    update webinars
    set seats_taken = seats_taken + 1
    where
        id = (select id from open_webinar)
        and seats_taken < capacity
        and exists (select 1 from person)
    returning id
),

registration as (
    insert into webinar_registrations
        (webinar_id, lead_id, status, source, holds_seat, registered_at, updated_at)
    select
        open_webinar.id,
        person.lead_id,
        case when exists (select 1 from seat) then 'registered' else 'waitlisted' end,
        :source,
        exists (select 1 from seat),
        :at,
        :at
    from open_webinar cross join person
    returning id, webinar_id, lead_id, status
),

registered_touch as (
    insert into touchpoints
        (lead_id, occurred_at, channel, touch_type, source, campaign, detail, source_ref, scored, created_at)
    select
        registration.lead_id,
        :at,
        'webinar',
        'webinar_registered',
        'webinar',
        :slug,
        jsonb_build_object('status', registration.status, 'source', cast(:source as text)),
        'webinar:' || cast(:slug as text) || ':webinar_registered:' || registration.lead_id,
        true,
        :at
    from registration
    where not exists (
        select 1 from touchpoints as earlier
        where
            earlier.lead_id = registration.lead_id
            and earlier.touch_type = 'webinar_registered'
            and earlier.channel = 'webinar'
            and earlier.campaign = :slug
    )
    on conflict (source_ref) do nothing
)

select id, webinar_id, lead_id, status from registration
