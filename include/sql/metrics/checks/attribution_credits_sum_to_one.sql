-- Data-quality check (SQLCheckOperator; true = pass): in every computed week, each model's
-- credits for a conversion type add up to the number of conversions, counted here independently
-- from lifecycle_history (a lead's first entry into sql / customer within the week's bounds), so
-- every conversion's credits sum to 1. Merged leads' rows count for their survivor (two merge
-- levels followed here).
with owned_history as (
    select
        coalesce(survivor.merged_into_id, merged.merged_into_id, lifecycle_history.lead_id) as lead_id,
        lifecycle_history.to_stage,
        lifecycle_history.changed_at
    from lifecycle_history
    join leads as merged on merged.id = lifecycle_history.lead_id
    left join leads as survivor on survivor.id = merged.merged_into_id
    where lifecycle_history.to_stage in ('sql', 'customer')
),

first_entries as (
    select lead_id, to_stage as conversion, min(changed_at) as converted_at
    from owned_history
    group by lead_id, to_stage
),

conversions as (
    select metrics_weeks.week_start, first_entries.conversion, count(*) as conversions
    from first_entries
    join metrics_weeks
      on first_entries.converted_at >= metrics_weeks.starts_at
     and first_entries.converted_at < metrics_weeks.ends_at
    group by metrics_weeks.week_start, first_entries.conversion
),

models (model) as (
    values ('first_touch'), ('last_touch'), ('linear'), ('u_shaped'), ('w_shaped')
),

expected as (
    select conversions.week_start, conversions.conversion, models.model, conversions.conversions
    from conversions cross join models
),

credited as (
    select week_start, conversion, model, sum(credit) as credit
    from attribution_weekly
    group by week_start, conversion, model
),

mismatches as (
    select expected.week_start
    from expected
    left join credited
      on credited.week_start = expected.week_start
     and credited.conversion = expected.conversion
     and credited.model = expected.model
    where abs(coalesce(credited.credit, 0) - expected.conversions) > 0.000001
    union all
    select credited.week_start  -- credit for conversions that do not exist
    from credited
    left join expected
      on expected.week_start = credited.week_start
     and expected.conversion = credited.conversion
     and expected.model = credited.model
    where expected.week_start is null
)

select count(*) = 0 as credits_sum_to_one from mismatches
