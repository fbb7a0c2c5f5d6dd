"""``python -m funnelflow status``: sends by status, waiting events, suppressions by reason, the breaker."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from funnelflow.db.schema import SEND_STATUSES, SUPPRESSION_REASONS, email_events, suppressions
from funnelflow.identity import email_hash
from funnelflow.status import collect
from tests.factories import T0, add_lead, add_send


def _event(conn: sa.Connection, n: int, processed: bool) -> None:
    conn.execute(
        sa.insert(email_events).values(
            sg_event_id=f"ev-{n}",
            event="delivered",
            occurred_at=T0,
            received_at=T0,
            processed_at=T0 if processed else None,
        )
    )


def _fill(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        lead = add_lead(conn, "jane@example.com")
        statuses = ["delivered"] * 8 + ["bounced"] * 2 + ["unsettled", "claimed"]
        for n, status in enumerate(statuses):
            add_send(conn, lead, f"p{n}@example.com", key=f"k:{n}", status=status, claimed_at=T0)
        for n in range(3):
            _event(conn, n, processed=n == 0)
        for n, reason in enumerate(["bounce", "bounce", "unsubscribe"]):
            conn.execute(
                sa.insert(suppressions).values(email_hash=email_hash(f"s{n}@example.com"), reason=reason)
            )


def test_status_counts_sends_waiting_events_suppressions_and_the_breaker(engine, monkeypatch):
    monkeypatch.setenv("FUNNELFLOW_BREAKER_MIN_SENDS", "10")
    _fill(engine)
    s = collect(engine, T0 + timedelta(days=1))
    assert list(s["emails"]) == list(SEND_STATUSES)  # every status, 0 when none
    assert s["emails"]["delivered"] == 8 and s["emails"]["bounced"] == 2
    assert s["emails"]["unsettled"] == 1 and s["emails"]["claimed"] == 1 and s["emails"]["failed"] == 0
    assert s["events_waiting"] == 2 and s["landed_waiting"] == 0
    assert list(s["suppressions"]) == list(SUPPRESSION_REASONS)
    assert s["suppressions"]["bounce"] == 2 and s["suppressions"]["unsubscribe"] == 1
    assert s["suppressions"]["erased"] == 0
    # 2 bounces in 11 judged sends (claimed ones are not judged): over the 5% limit.
    breaker = s["breaker"]
    assert breaker["tripped"] is True and breaker["sends"] == 11 and "bounce rate" in breaker["reason"]
    # Eight days later the window holds no sends: marketing email flows again.
    assert collect(engine, T0 + timedelta(days=8))["breaker"]["tripped"] is False


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_status_command_prints_them(marketing_db_env, funnelflow_home, monkeypatch, capsys):
    from funnelflow.cli import main
    from funnelflow.db.engine import make_engine

    monkeypatch.setenv("FUNNELFLOW_BREAKER_MIN_SENDS", "10")
    engine = make_engine(marketing_db_env)
    _fill(engine)
    engine.dispose()
    assert main(["status", "--as-of", (T0 + timedelta(days=1)).isoformat()]) == 0
    out = capsys.readouterr().out
    assert "unsettled 1" in out and "claimed 1" in out
    assert "2  SendGrid events not yet processed" in out
    assert "suppressions: unsubscribe 1, bounce 2, spam_report 0," in out
    assert "breaker:      TRIPPED" in out
    assert "example.com" not in out  # counts, never a person


def _funnel(engine, home, tmp_path, monkeypatch) -> None:
    from tests.overview_rows import fill, write_campaigns

    monkeypatch.setenv("FUNNELFLOW_CONFIG_DIR", str(tmp_path / "config"))
    write_campaigns(tmp_path / "config")
    fill(engine, home)


def test_status_collects_the_whole_funnel_as_of_its_time(engine, funnelflow_home, tmp_path, monkeypatch):
    from tests.overview_rows import AS_OF

    _funnel(engine, funnelflow_home, tmp_path, monkeypatch)
    s = collect(engine, AS_OF)
    assert s["by_stage"]["mql"] == 3  # status counts every lead row, the merged one included
    assert s["queue"]["by_status"]["open"] == 4 and s["queue"]["breached"] == 1
    assert [c["slug"] for c in s["campaigns"]] == ["weekly-news", "broken", "old-once"]
    assert [w["slug"] for w in s["webinars"]] == ["dec-demo"]
    assert s["report"]["week"] == "2026-W48"
    # A naive --as-of is UTC; a week later the due-soon item is breached and the next run moved on.
    later = collect(engine, (AS_OF + timedelta(days=7)).replace(tzinfo=None))
    assert later["queue"]["breached"] == 3 and later["queue"]["due_soon"] == 0
    assert later["campaigns"][0]["next_run"] == AS_OF.replace(day=15, hour=8)


def test_status_command_prints_the_whole_funnel(
    engine, marketing_db_env, funnelflow_home, tmp_path, monkeypatch, capsys
):
    from funnelflow.cli import main
    from tests.overview_rows import AS_OF

    _funnel(engine, funnelflow_home, tmp_path, monkeypatch)
    assert main(["status", "--as-of", AS_OF.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "queue:        open 4, accepted 1, rejected 0, won 0, lost 0, closed 0, unassigned 1" in out
    assert (
        "sla:          4 open, 3 not yet acted on: 1 due soon, 1 BREACHED (oldest due 2026-11-30 14:00 UTC)"
        in out
    )
    assert (
        "campaigns:    weekly-news: next 2026-12-08 08:00 UTC (cron 0 9 * * TUE, Europe/Berlin); "
        "last run 2026-11-24 08:00 UTC done: sent 3, delivered 2, opens 1, clicks 1" in out
    )
    assert "              broken: INVALID file: run `python -m funnelflow campaigns check`; no run yet" in out
    assert "              old-once: no further runs (once 2026-11-04T10:00:00+01:00); no run yet" in out
    assert "webinars:     dec-demo: 2026-12-10 15:00 UTC, 1 registered, 1 waitlisted, seats 1 of 2" in out
    assert "report:       2026-W48: new leads 12, MQLs 5, SQLs 2, customers 1 (" in out
    assert "example.org" not in out  # counts and names of things, never a person
