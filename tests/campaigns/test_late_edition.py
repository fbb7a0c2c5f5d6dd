"""A scheduled edition that starts long after its slot (the DAG unpaused days later) is skipped, not sent."""

from __future__ import annotations

from datetime import timedelta

from funnelflow.campaigns import run
from tests.factories import AS_OF, add_person


def test_a_scheduled_edition_started_long_after_its_slot_is_skipped(engine):
    started = AS_OF + run.LATE_EDITION + timedelta(minutes=1)
    why = run.late_edition(engine, "test-news", AS_OF, started, scheduled=True)
    assert why is not None and "skipped, nothing sent" in why and "12.0 h" in why


def test_on_time_and_manual_editions_are_sent(engine):
    on_time = AS_OF + run.LATE_EDITION
    assert run.late_edition(engine, "test-news", AS_OF, on_time, scheduled=True) is None
    days_late = AS_OF + timedelta(days=3)
    assert run.late_edition(engine, "test-news", AS_OF, days_late, scheduled=False) is None


def test_a_retry_of_an_edition_that_started_on_time_goes_on(engine, newsletter):
    with engine.begin() as conn:
        add_person(conn, "a@example.com")
    run.resolve_audience(engine, newsletter, AS_OF)  # the first try, on time, stored its audience
    days_late = AS_OF + timedelta(days=2)  # the run cleared and rerun two days later
    assert run.late_edition(engine, newsletter.slug, AS_OF, days_late, scheduled=True) is None
    assert run.late_edition(engine, "another-campaign", AS_OF, days_late, scheduled=True) is not None
