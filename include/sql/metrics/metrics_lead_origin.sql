-- metrics_lead_origin (full build): one row per counted lead: when it first touched us, and the
-- channel, source and campaign of that earliest touch (any type, merged leads' touches included;
-- ties by occurred_at, then id). A missing source or campaign is '(none)'.
-- funnelflow.metrics.origins builds the maintained table metrics_lead_origin from this when it is
-- empty or cannot be brought up to date lead by lead (metrics_lead_origin_refresh.sql does the
-- leads that changed); the marts read it as stg_lead_origin.
-- Needs stg_lead_owner.
with owned_touches as (
    select
        coalesce(stg_lead_owner.owner_id, touchpoints.lead_id) as lead_id,
        touchpoints.id as touch_id,
        touchpoints.occurred_at,
        touchpoints.channel,
        touchpoints.source,
        touchpoints.campaign
    from touchpoints
    left join stg_lead_owner on stg_lead_owner.lead_id = touchpoints.lead_id
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
