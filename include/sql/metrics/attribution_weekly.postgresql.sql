-- attribution_weekly (PostgreSQL): the same credits as attribution_weekly.sql, whose header has
-- the definitions (and the README), computed for a year of weeks in one ordered pass over the
-- eligible touches:
--   * a conversion's eligible touches, sorted by occurred_at then id, are numbered 1..n; M is the
--     touch at position "how many of them came at or before the MQL entry" (F when none did), O
--     likewise, so key touches need no second look at the touches;
--   * a touch's credit in every model depends only on n and on which key roles it holds, so the
--     touches are counted per week, conversion, channel, campaign and those, and the credits
--     (numeric, as in attribution_weekly.sql: the same values to the last digit) are computed
--     once per group: count x credit;
--   * conversions find their week with width_bucket over the computed weeks' starts.
-- The conversions are written inline where they are used (not materialized), so the planner
-- knows from the staged tables' statistics how many there are and hashes them, not touchpoints.
-- Needs stg_week_list, stg_lead_owner, stg_first_stage_entry and stg_won_opportunities; binds
-- from_at, to_at (the first week's start, the last week's end).
with conversions as not materialized (  -- first entries into sql and customer in a computed week
    select
        (select week_starts from stg_week_list)[week_no] as week_start,
        lead_id,
        stage as conversion,
        first_at as converted_at
    from (
        select
            stg_first_stage_entry.*,
            width_bucket(stg_first_stage_entry.first_at, (select starts from stg_week_list)) as week_no
        from stg_first_stage_entry
        where stg_first_stage_entry.stage in ('sql', 'customer')
          and stg_first_stage_entry.first_at >= :from_at
          and stg_first_stage_entry.first_at < :to_at
    ) as entries
    where first_at < (select ends from stg_week_list)[week_no]  -- not in a gap between computed weeks
),

milestones as not materialized (  -- the entries M and O are measured against
    select
        conversions.*,
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

won_amounts as (  -- what each customer conversion won (conversions without a won deal are not here: 0)
    select conversions.lead_id, conversions.conversion, sum(stg_won_opportunities.amount) as won_amount
    from conversions
    join stg_won_opportunities
      on stg_won_opportunities.lead_id = conversions.lead_id
     and stg_won_opportunities.closed_at <= conversions.converted_at
    where conversions.conversion = 'customer'
    group by conversions.lead_id, conversions.conversion
),

conversion_touches as (
    -- each conversion's eligible touches (merged leads' included) numbered in order (pos), with n
    -- and how many of them came at or before the MQL entry and the O entry; a conversion without
    -- any keeps one row without a touch (n = 0)
    select
        week_start,
        lead_id,
        conversion,
        touch_id,
        channel,
        campaign,
        row_number() over in_order as pos,  -- the row without a touch comes last
        count(touch_id) over per_conversion as n,
        count(case when by_mql then 1 end) over per_conversion as m_count,
        count(case when by_o then 1 end) over per_conversion as o_count
    from (  -- (only what the ordered pass needs: the rows are sorted, 2 million for a year)
        select
            milestones.week_start,
            milestones.lead_id,
            milestones.conversion,
            touchpoints.id as touch_id,
            touchpoints.occurred_at,
            touchpoints.occurred_at <= milestones.mql_at as by_mql,
            touchpoints.occurred_at <= milestones.o_at as by_o,
            touchpoints.channel,
            coalesce(touchpoints.campaign, '(none)') as campaign
        from milestones
        left join touchpoints
          on touchpoints.lead_id = milestones.lead_id
         and touchpoints.occurred_at <= milestones.converted_at
         and touchpoints.touch_type not in ('email_open', 'sales_activity')
         and touchpoints.scored
        union all
        select
            milestones.week_start,
            milestones.lead_id,
            milestones.conversion,
            touchpoints.id,
            touchpoints.occurred_at,
            touchpoints.occurred_at <= milestones.mql_at,
            touchpoints.occurred_at <= milestones.o_at,
            touchpoints.channel,
            coalesce(touchpoints.campaign, '(none)')
        from milestones
        join stg_lead_owner on stg_lead_owner.owner_id = milestones.lead_id
        join touchpoints
          on touchpoints.lead_id = stg_lead_owner.lead_id
         and touchpoints.occurred_at <= milestones.converted_at
        where touchpoints.touch_type not in ('email_open', 'sales_activity')
          and touchpoints.scored
    ) as touches
    window
        per_conversion as (partition by lead_id, conversion),
        in_order as (per_conversion order by occurred_at, touch_id)
),

key_roles as (
    -- which key roles each touch holds: F (position 1), the last touch (n), M (the count at or
    -- before the MQL entry; F without one) and O (likewise; M without one); how many distinct key
    -- touches the U and W shapes have; one row per touch, and one per conversion without any
    select
        week_start,
        lead_id,
        conversion,
        case when n = 0 then 'unattributed' else channel end as channel,
        case when n = 0 then '(none)' else campaign end as campaign,
        n,
        pos = 1 as is_f,
        pos = n as is_last,
        pos = m_pos as is_m,
        pos = o_pos as is_o,
        case when m_pos = 1 then 1 else 2 end as u_keys,
        1
        + case when m_pos <> 1 then 1 else 0 end
        + case when o_pos not in (1, m_pos) then 1 else 0 end as w_keys
    from (
        select
            conversion_touches.*,
            coalesce(nullif(m_count, 0), 1) as m_pos,
            coalesce(nullif(o_count, 0), nullif(m_count, 0), 1) as o_pos
        from conversion_touches
        where touch_id is not null or pos = 1
    ) as positions
),

role_counts as (  -- touches per week, conversion, channel, campaign, n and key roles, and the amounts they carry
    select
        key_roles.week_start,
        key_roles.conversion,
        key_roles.channel,
        key_roles.campaign,
        key_roles.n,
        key_roles.is_f,
        key_roles.is_last,
        key_roles.is_m,
        key_roles.is_o,
        key_roles.u_keys,
        key_roles.w_keys,
        count(*) as touches,
        coalesce(sum(won_amounts.won_amount), 0) as won_amount
    from key_roles
    left join won_amounts
      on won_amounts.lead_id = key_roles.lead_id
     and won_amounts.conversion = key_roles.conversion
    group by
        key_roles.week_start,
        key_roles.conversion,
        key_roles.channel,
        key_roles.campaign,
        key_roles.n,
        key_roles.is_f,
        key_roles.is_last,
        key_roles.is_m,
        key_roles.is_o,
        key_roles.u_keys,
        key_roles.w_keys
),

touch_credits as (  -- one touch's credit in every model (a conversion without touches: all to 'unattributed')
    select
        role_counts.*,
        case when n = 0 or is_f then 1.0 else 0.0 end as first_touch,
        case when n = 0 or is_last then 1.0 else 0.0 end as last_touch,
        case when n = 0 then 1.0 else 1.0 / n end as linear,
        case
            when n = 0 then 1.0
            else
                case when is_f then 0.4 else 0.0 end
                + case when is_m then 0.4 else 0.0 end
                + case
                    when not is_f and not is_m then 0.2 / (n - u_keys)
                    when n - u_keys = 0 then 0.2 / u_keys
                    else 0.0
                end
        end as u_shaped,
        case
            when n = 0 then 1.0
            else
                case when is_f then 0.3 else 0.0 end
                + case when is_m then 0.3 else 0.0 end
                + case when is_o then 0.3 else 0.0 end
                + case
                    when not is_f and not is_m and not is_o then 0.1 / (n - w_keys)
                    when n - w_keys = 0 then 0.1 / w_keys
                    else 0.0
                end
        end as w_shaped
    from role_counts
),

credits_summed as (  -- per week, conversion, channel and campaign, before the models are split into rows
    select
        week_start,
        conversion,
        channel,
        campaign,
        sum(touches * first_touch) as first_touch,
        sum(won_amount * first_touch) as first_touch_revenue,
        sum(touches * last_touch) as last_touch,
        sum(won_amount * last_touch) as last_touch_revenue,
        sum(touches * linear) as linear,
        sum(won_amount * linear) as linear_revenue,
        sum(touches * u_shaped) as u_shaped,
        sum(won_amount * u_shaped) as u_shaped_revenue,
        sum(touches * w_shaped) as w_shaped,
        sum(won_amount * w_shaped) as w_shaped_revenue
    from touch_credits
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
