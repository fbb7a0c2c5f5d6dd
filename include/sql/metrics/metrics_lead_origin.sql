-- metrics_lead_origin: one row per counted lead in stg_refresh_leads: when it first touched us,
-- and the channel, source and campaign of that earliest touch (any type, merged leads' touches
-- included; ties by occurred_at, then id). A missing source or campaign is '(none)'.
-- funnelflow.metrics.origins keeps the table metrics_lead_origin with it: stg_refresh_leads holds
-- the leads whose rows changed since the last refresh and their survivors, or, for a full build,
-- every counted lead. A lead in it that is merged into another gets no row; its touches count for
-- its survivor. The marts read the table as stg_lead_origin.
-- Needs stg_refresh_members (the members of each lead in stg_refresh_leads).
with owned_touches as (
    select
        stg_refresh_members.owner_id as lead_id,
        touchpoints.id as touch_id,
        touchpoints.occurred_at,
        touchpoints.channel,
        touchpoints.source,
        touchpoints.campaign
    from stg_refresh_members
    join touchpoints on touchpoints.lead_id = stg_refresh_members.lead_id
),

ranked_touches as (
    select
        owned_touches.*,
        row_number() over (partition by lead_id order by occurred_at, touch_id) as touch_rank
    from owned_touches
)

select
    lead_id,
    occurred_at as first_touch_at,
    touch_id,
    channel,
    coalesce(source, '(none)') as source,
    coalesce(campaign, '(none)') as campaign
from ranked_touches
where touch_rank = 1
