"""The metrics statements through funnelflow.sql: the dialect's variant first, values always bound."""

import re

import pytest

from funnelflow import sql


def test_shared_file_and_dialect_variants():
    assert "percentile_cont" in sql.source("metrics/funnel_velocity", "postgresql")
    assert "julianday" in sql.source("metrics/funnel_velocity", "sqlite")
    assert sql.path_of("metrics/funnel_weekly", "sqlite").name == "funnel_weekly.sql"  # no variant: shared


def test_every_value_is_a_bound_parameter_never_text():
    # The marts read the weeks from stg_weeks (filled with bound values); staging binds its span.
    for name in ("funnel_weekly", "funnel_cohorts", "email_weekly", "attribution_weekly", "retention_weekly"):
        text = sql.source(f"metrics/{name}")
        assert "stg_weeks" in text
        assert "{" not in text  # nothing is formatted in
        assert not re.search(r"\d{4}-\d{2}-\d{2}", text)  # no week written into the text
    for name in ("stg_email_sends", "stg_email_events"):
        assert ":from_at" in sql.source(f"metrics/{name}")
    assert ":starts_at" in sql.source("metrics/sla_first_actions")


def test_unknown_names_and_escapes_are_refused():
    with pytest.raises(sql.UnknownStatement, match="no SQL file for 'metrics/nope'"):
        sql.source("metrics/nope")
    with pytest.raises(sql.UnknownStatement):
        sql.source("../README")


def test_cohorts_have_a_column_for_each_of_the_report_weeks_that_show_a_cohort():
    # funnel_cohorts counts each cohort's leads once, side by side for its 1st .. 12th report week:
    # the numbered columns must follow COHORT_WEEKS, or later report weeks would read nothing.
    from funnelflow.metrics.compute import COHORT_WEEKS

    text = sql.source("metrics/funnel_cohorts")
    for stage in ("mql", "sql", "customer"):
        numbers = {int(n) for n in re.findall(rf"\b{stage}_(\d+)\b", text)}
        assert numbers == set(range(1, COHORT_WEEKS + 1)), stage
    assert {int(n) for n in re.findall(r"\bas_of_(\d+)\b", text)} == set(range(1, COHORT_WEEKS + 1))
