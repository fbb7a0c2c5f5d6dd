-- attribution_weekly: credit for the week's conversions (a lead's first entry into 'sql', and into
-- 'customer'), spread over its eligible touches by five models, summed per model, conversion,
-- channel and campaign of the credited touch. Every conversion's credits sum to 1 in every model.
--
-- Eligible touches: every touch of the lead (merged leads' included) at or before the conversion,
-- except email_open, sales_activity and touches not scored (machine opens, scanner clicks),
-- ordered by occurred_at, then id. Key touches:
--   F = the earliest eligible touch;
--   M = the last eligible touch at or before the lead's first MQL entry (F when there is none);
--   O = the last eligible touch at or before the lead's first SQL entry (for a customer
--       conversion: its first opportunity entry, else its first SQL entry; M when neither
--       exists, or when no eligible touch comes at or before it).
-- Models: first_touch (F 1), last_touch (the last eligible touch 1), linear (1/n each),
-- u_shaped (F 0.4, M 0.4, the other touches share 0.2), w_shaped (F 0.3, M 0.3, O 0.3, the
-- others share 0.1). A touch holding two key roles gets both weights; with no other touches
-- their share is split equally among the distinct key touches. A conversion with no eligible
-- touch gives its whole credit to channel 'unattributed' (campaign '(none)').
-- revenue_credit: credit x the conversion's won amount, summed like credit. The won amount of a
-- customer conversion is the sum of the amounts of the lead's opportunities (merged leads'
-- included) closed won at or before the conversion (0 when none); a sql conversion has none (0).
-- For each computed week (stg_weeks): its conversions (a lead converts once into each stage, so
-- each conversion belongs to one week). Needs stg_weeks, stg_lead_owner, stg_first_stage_entry
-- and stg_won_opportunities.
-- SQLite runs this file; PostgreSQL runs attribution_weekly.postgresql.sql beside it (the same rows, computed
-- for a year of weeks without a range join per week: see its header).
with conversions as (
    select
        stg_weeks.week_start,
        stg_first_stage_entry.lead_id,
        stg_first_stage_entry.stage as conversion,
        stg_first_stage_entry.first_at as converted_at
    from stg_weeks
    join stg_first_stage_entry
      on stg_first_stage_entry.first_at >= stg_weeks.starts_at
     and stg_first_stage_entry.first_at < stg_weeks.ends_at
    where stg_first_stage_entry.stage in ('sql', 'customer')
      -- The span of the computed weeks (binds from_at, to_at; the join above already keeps to it)
      -- tells the planner how many conversions to expect: for one week it looks each lead's
      -- touches up by index, for a year's backfill it reads touchpoints once.
      and stg_first_stage_entry.first_at >= :from_at
      and stg_first_stage_entry.first_at < :to_at
),

won_amounts as (  -- what each customer conversion brought
    select
        conversions.lead_id,
        conversions.conversion,
        coalesce(sum(stg_won_opportunities.amount), 0) as won_amount
    from conversions
    left join stg_won_opportunities
      on stg_won_opportunities.lead_id = conversions.lead_id
     and stg_won_opportunities.closed_at <= conversions.converted_at
     and conversions.conversion = 'customer'
    group by conversions.lead_id, conversions.conversion
),

conversion_touch_leads as (  -- whose touches count for a conversion: the lead's own and those of leads merged into it
    select week_start, lead_id, conversion, converted_at, lead_id as touch_lead_id
    from conversions
    union all
    select conversions.week_start, conversions.lead_id, conversions.conversion, conversions.converted_at,
           stg_lead_owner.lead_id
    from conversions
    join stg_lead_owner on stg_lead_owner.owner_id = conversions.lead_id
),

eligible_touches as (
    select
        conversion_touch_leads.week_start,
        conversion_touch_leads.lead_id,
        conversion_touch_leads.conversion,
        touchpoints.channel,
        coalesce(touchpoints.campaign, '(none)') as campaign,
        touchpoints.occurred_at,
        row_number() over (
            partition by conversion_touch_leads.lead_id, conversion_touch_leads.conversion
            order by touchpoints.occurred_at, touchpoints.id
        ) as pos
    from conversion_touch_leads
    join touchpoints
      on touchpoints.lead_id = conversion_touch_leads.touch_lead_id
     and touchpoints.occurred_at <= conversion_touch_leads.converted_at
    where touchpoints.touch_type not in ('email_open', 'sales_activity')
      and touchpoints.scored
),

milestones as (  -- the entries M and O are measured against
    select
        conversions.lead_id,
        conversions.conversion,
        first_mql.first_at as mql_at,
        case
            when conversions.conversion = 'sql' then conversions.converted_at
            else coalesce(first_opportunity.first_at, first_sql.first_at)
        end as o_at
    from conversions
    left join stg_first_stage_entry as first_mql
      on first_mql.lead_id = conversions.lead_id and first_mql.stage = 'mql'
    left join stg_first_stage_entry as first_opportunity
      on first_opportunity.lead_id = conversions.lead_id and first_opportunity.stage = 'opportunity'
    left join stg_first_stage_entry as first_sql
      on first_sql.lead_id = conversions.lead_id and first_sql.stage = 'sql'
),

key_candidates as (
    select
        eligible_touches.lead_id,
        eligible_touches.conversion,
        max(eligible_touches.pos) as n,
        max(case when eligible_touches.occurred_at <= milestones.mql_at then eligible_touches.pos end) as m_pos,
        max(case when eligible_touches.occurred_at <= milestones.o_at then eligible_touches.pos end) as o_pos
    from eligible_touches
    join milestones
      on milestones.lead_id = eligible_touches.lead_id
     and milestones.conversion = eligible_touches.conversion
    group by eligible_touches.lead_id, eligible_touches.conversion
),

key_touches as (  -- positions of F, M, O and how many touches are not key in each model
    select
        lead_id,
        conversion,
        n,
        f_pos,
        m_pos,
        o_pos,
        n - (case when m_pos = f_pos then 1 else 2 end) as u_others,
        case when m_pos = f_pos then 1 else 2 end as u_keys,
        n - w_keys as w_others,
        w_keys
    from (
        select
            lead_id,
            conversion,
            n,
            1 as f_pos,
            coalesce(m_pos, 1) as m_pos,
            coalesce(o_pos, m_pos, 1) as o_pos,
            1
            + case when coalesce(m_pos, 1) <> 1 then 1 else 0 end
            + case when coalesce(o_pos, m_pos, 1) not in (1, coalesce(m_pos, 1)) then 1 else 0 end as w_keys
        from key_candidates
    ) as positions
),

touch_credits as (
    select
        eligible_touches.week_start,
        eligible_touches.lead_id,
        eligible_touches.conversion,
        eligible_touches.channel,
        eligible_touches.campaign,
        case when eligible_touches.pos = key_touches.f_pos then 1.0 else 0.0 end as first_touch,
        case when eligible_touches.pos = key_touches.n then 1.0 else 0.0 end as last_touch,
        1.0 / key_touches.n as linear,
        case when eligible_touches.pos = key_touches.f_pos then 0.4 else 0.0 end
        + case when eligible_touches.pos = key_touches.m_pos then 0.4 else 0.0 end
        + case
            when eligible_touches.pos not in (key_touches.f_pos, key_touches.m_pos) then 0.2 / key_touches.u_others
            when key_touches.u_others = 0 then 0.2 / key_touches.u_keys
            else 0.0
        end as u_shaped,
        case when eligible_touches.pos = key_touches.f_pos then 0.3 else 0.0 end
        + case when eligible_touches.pos = key_touches.m_pos then 0.3 else 0.0 end
        + case when eligible_touches.pos = key_touches.o_pos then 0.3 else 0.0 end
        + case
            when eligible_touches.pos not in (key_touches.f_pos, key_touches.m_pos, key_touches.o_pos)
                then 0.1 / key_touches.w_others
            when key_touches.w_others = 0 then 0.1 / key_touches.w_keys
            else 0.0
        end as w_shaped
    from eligible_touches
    join key_touches
      on key_touches.lead_id = eligible_touches.lead_id
     and key_touches.conversion = eligible_touches.conversion
),

unattributed as (  -- conversions without a single eligible touch
    select conversions.week_start, conversions.lead_id, conversions.conversion, 'unattributed' as channel, '(none)' as campaign,
           1.0 as first_touch, 1.0 as last_touch, 1.0 as linear, 1.0 as u_shaped, 1.0 as w_shaped
    from conversions
    left join key_touches
      on key_touches.lead_id = conversions.lead_id
     and key_touches.conversion = conversions.conversion
    where key_touches.lead_id is null
),

credits as (
    select credited.*, won_amounts.won_amount
    from (
        select * from touch_credits
        union all
        select * from unattributed
    ) as credited
    join won_amounts
      on won_amounts.lead_id = credited.lead_id
     and won_amounts.conversion = credited.conversion
),

credits_summed as (  -- per week, conversion, channel and campaign, before the models are split into rows
    select
        week_start,
        conversion,
        channel,
        campaign,
        sum(first_touch) as first_touch,
        sum(first_touch * won_amount) as first_touch_revenue,
        sum(last_touch) as last_touch,
        sum(last_touch * won_amount) as last_touch_revenue,
        sum(linear) as linear,
        sum(linear * won_amount) as linear_revenue,
        sum(u_shaped) as u_shaped,
        sum(u_shaped * won_amount) as u_shaped_revenue,
        sum(w_shaped) as w_shaped,
        sum(w_shaped * won_amount) as w_shaped_revenue
    from credits
    group by week_start, conversion, channel, campaign
),

credits_by_model as (
    select
        week_start, conversion, channel, campaign, 'first_touch' as model, first_touch as credit,
        first_touch_revenue as revenue_credit
    from credits_summed
    union all
    select week_start, conversion, channel, campaign, 'last_touch', last_touch, last_touch_revenue
    from credits_summed
    union all
    select week_start, conversion, channel, campaign, 'linear', linear, linear_revenue from credits_summed
    union all
    select week_start, conversion, channel, campaign, 'u_shaped', u_shaped, u_shaped_revenue from credits_summed
    union all
    select week_start, conversion, channel, campaign, 'w_shaped', w_shaped, w_shaped_revenue from credits_summed
)

select week_start, model, conversion, channel, campaign, credit, revenue_credit
from credits_by_model
where credit > 0
