"""The metrics statements through funnelflow.sql: the dialect's variant first, values always bound."""

import pytest

from funnelflow import sql


def test_shared_file_and_dialect_variants():
    assert "percentile_cont" in sql.source("metrics/funnel_velocity", "postgresql")
    assert "julianday" in sql.source("metrics/funnel_velocity", "sqlite")
    assert sql.path_of("metrics/funnel_weekly", "sqlite").name == "funnel_weekly.sql"  # no variant: shared


def test_every_value_is_a_bound_parameter_never_text():
    for name in ("funnel_weekly", "funnel_cohorts", "email_weekly", "attribution_weekly"):
        text = sql.source(f"metrics/{name}")
        assert ":starts_at" in text or ":as_of" in text
        assert "{" not in text  # nothing is formatted in


def test_unknown_names_and_escapes_are_refused():
    with pytest.raises(sql.UnknownStatement, match="no SQL file for 'metrics/nope'"):
        sql.source("metrics/nope")
    with pytest.raises(sql.UnknownStatement):
        sql.source("../README")
