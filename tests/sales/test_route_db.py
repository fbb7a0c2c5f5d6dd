"""Routing against the database: queued once per SQL entry, owners written, deadlines, overlapping runs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from funnelflow.db.schema import accounts, leads, lifecycle_history, reps, sales_queue, sales_queue_history
from funnelflow.sales.routing import route
from funnelflow.sales.team import team_from_text
from tests.sales.factories import AS_OF, TEAM_YAML, add_account, add_sql_lead


@pytest.fixture
def team():
    return team_from_text(TEAM_YAML)


def items(engine):
    with engine.connect() as conn:
        return conn.execute(sa.select(sales_queue).order_by(sales_queue.c.id)).mappings().all()


def test_each_sql_entry_is_queued_once_and_reruns_add_nothing(engine, team):
    acct = add_account(engine, "big.example", country="DE", employee_band="5001+", industry="Software")
    first = add_sql_lead(engine, "a@big.example", AS_OF - timedelta(hours=2), account_id=acct, fit_grade="A")
    second = add_sql_lead(engine, "b@big.example", AS_OF - timedelta(hours=1), account_id=acct, country="US")
    add_sql_lead(engine, "mql@x.example", stage="mql")

    result = route(engine, team, as_of=AS_OF, run_id="r1")
    assert (result.queued, result.assigned, result.unassigned) == (2, 2, 0)
    rows = items(engine)
    assert [(r["lead_id"], r["rep_id"], r["routing_reason"]) for r in rows] == [
        (first, "lena", "country_segment_industry"),
        (second, "lena", "account_owner"),  # the first assignment made lena the owner
    ]
    # Grade A: 4 business hours from Tue 11:00 Berlin -> 15:00 Berlin; reminder at half time.
    assert rows[0]["due_at"] == datetime(2026, 12, 1, 14, tzinfo=UTC)
    assert rows[0]["remind_at"] == datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert rows[0]["reassign_at"] == datetime(2026, 12, 2, 14, tzinfo=UTC)  # + 8 business hours
    assert rows[0]["status"] == "open" and rows[0]["assigned_at"] == AS_OF
    with engine.connect() as conn:
        assert (
            conn.execute(sa.select(accounts.c.owner_rep_id).where(accounts.c.id == acct)).scalar_one()
            == "lena"
        )
        # Leads with an account are owned through it: their rows are not rewritten.
        assert (
            conn.execute(sa.select(sa.func.count()).where(leads.c.owner_rep_id.is_not(None))).scalar_one()
            == 0
        )
        assert conn.execute(sa.select(sa.func.count()).select_from(sales_queue_history)).scalar_one() == 2
        assert conn.execute(sa.select(sa.func.count()).select_from(reps)).scalar_one() == 3

    again = route(engine, team, as_of=AS_OF + timedelta(minutes=15), run_id="r2")
    assert (again.queued, again.assigned) == (0, 0)
    assert len(items(engine)) == 2


def test_a_lead_without_an_account_is_owned_directly_by_its_latest_rep(engine, team):
    alone = add_sql_lead(engine, "a@gmail.example", AS_OF - timedelta(hours=1), country="US")
    route(engine, team, as_of=AS_OF)
    with engine.connect() as conn:
        owner = conn.execute(sa.select(leads.c.owner_rep_id).where(leads.c.id == alone)).scalar_one()
        updated = conn.execute(sa.select(leads.c.updated_at).where(leads.c.id == alone)).scalar_one()
    assert owner == "marcus"
    # Becoming SQL again with marcus inactive: the new rep becomes the owner.
    with engine.begin() as conn:
        conn.execute(sales_queue.update().where(sales_queue.c.lead_id == alone).values(status="rejected"))
        conn.execute(
            lifecycle_history.insert().values(
                lead_id=alone, from_stage="recycled", to_stage="sql", changed_at=AS_OF, reason="t"
            )
        )
    busy = team_from_text(TEAM_YAML.replace("capacity: 5\n", "capacity: 5\n    active: false\n"))
    route(engine, busy, as_of=AS_OF + timedelta(hours=1))
    with engine.connect() as conn:
        assert conn.execute(sa.select(leads.c.owner_rep_id).where(leads.c.id == alone)).scalar_one() in (
            "lena",
            "jonas",
        )
        # the owner is not a change qualification must score again
        assert conn.execute(sa.select(leads.c.updated_at).where(leads.c.id == alone)).scalar_one() == updated


def test_a_lead_that_becomes_sql_again_gets_a_new_item(engine, team):
    lead_id = add_sql_lead(engine, "a@x.example", country="US")
    route(engine, team, as_of=AS_OF)
    with engine.begin() as conn:
        conn.execute(
            lifecycle_history.insert().values(
                lead_id=lead_id,
                from_stage="recycled",
                to_stage="sql",
                changed_at=AS_OF + timedelta(days=40),
                reason="t",
            )
        )
    result = route(engine, team, as_of=AS_OF + timedelta(days=40))
    assert result.queued == 1
    assert len(items(engine)) == 2


def test_nobody_eligible_leaves_the_item_unassigned_with_its_reason_then_assigns_it(engine, team):
    full = team_from_text(
        TEAM_YAML.replace("capacity: 5", "capacity: 0")
        .replace("capacity: 3", "capacity: 0")
        .replace("capacity: 2", "capacity: 0")
    )
    lead_id = add_sql_lead(engine, "a@x.example", country="US")
    result = route(engine, full, as_of=AS_OF)
    assert (result.queued, result.unassigned) == (1, 1)
    (row,) = items(engine)
    assert row["status"] == "unassigned" and row["rep_id"] is None
    assert row["routing_reason"].startswith("no eligible rep (3 at_capacity")
    assert (
        route(engine, full, as_of=AS_OF + timedelta(minutes=15)).unassigned == 1
    )  # still waiting, no new row

    later = AS_OF + timedelta(minutes=30)
    result = route(engine, team, as_of=later)
    assert (result.queued, result.assigned, result.unassigned) == (0, 1, 0)
    (row,) = items(engine)
    assert (row["lead_id"], row["status"], row["rep_id"], row["assigned_at"]) == (
        lead_id,
        "open",
        "marcus",
        later,
    )
    with engine.connect() as conn:
        actions = (
            conn.execute(sa.select(sales_queue_history.c.action).order_by(sales_queue_history.c.id))
            .scalars()
            .all()
        )
    assert actions == ["unassigned", "assigned"]


def test_leads_go_in_the_order_they_became_sql(engine, team):
    small = team_from_text(TEAM_YAML.replace("capacity: 5", "capacity: 1"))
    late = add_sql_lead(engine, "late@x.example", AS_OF - timedelta(minutes=1), country="US")
    early = add_sql_lead(engine, "early@x.example", AS_OF - timedelta(hours=3), country="US")
    route(engine, small, as_of=AS_OF)
    got = {r["lead_id"]: r["rep_id"] for r in items(engine)}
    assert got[early] == "marcus"  # marcus had one slot: the lead that became SQL first took it
    assert got[late] == "jonas"  # then `any`: jonas (0 open) before lena (0 open) by id


def test_merged_and_erased_leads_are_not_queued(engine, team):
    survivor = add_sql_lead(engine, "a@x.example", country="US")
    add_sql_lead(engine, "b@x.example", country="US", merged_into_id=survivor)
    add_sql_lead(engine, "c@x.example", country="US", erased_at=AS_OF)
    assert route(engine, team, as_of=AS_OF).queued == 1


def test_two_overlapping_runs_never_exceed_capacity(db_url, team):
    from funnelflow.db.engine import make_engine

    engine = make_engine(db_url)
    tight = team_from_text(TEAM_YAML.replace("capacity: 5", "capacity: 2"))
    for i in range(12):
        add_sql_lead(engine, f"l{i}@x.example", AS_OF - timedelta(minutes=i), country="US")
    barrier = threading.Barrier(2)
    errors = []

    def run(k):
        try:
            barrier.wait()
            route(make_engine(db_url), tight, as_of=AS_OF + timedelta(seconds=k), run_id=f"run{k}")
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = items(engine)
    assert len(rows) == 12  # each entry once, whichever run took it
    per_rep = {}
    for r in rows:
        if r["status"] == "open":
            per_rep[r["rep_id"]] = per_rep.get(r["rep_id"], 0) + 1
    assert per_rep == {"marcus": 2, "jonas": 3, "lena": 2}
    assert sum(r["status"] == "unassigned" for r in rows) == 5
    engine.dispose()


def test_a_rep_removed_from_the_file_is_kept_inactive(engine, team):
    route(engine, team, as_of=AS_OF)
    fewer = team_from_text(
        TEAM_YAML.replace("  - {name: amer, manager: marcus}\n", "").split("  - id: marcus")[0]
        + "routing: [any]\n"
    )
    route(engine, fewer, as_of=AS_OF)
    with engine.connect() as conn:
        row = conn.execute(sa.select(reps).where(reps.c.id == "marcus")).mappings().one()
    assert (row["active"], row["in_team_file"]) == (False, False)


def test_airflows_pendulum_times_are_accepted(engine, team):
    """Tasks get pendulum DateTimes from Airflow; deadlines must come out the same as for a plain datetime."""
    import pendulum

    add_sql_lead(engine, "p@x.example", country="AT", fit_grade="A")
    route(engine, team, as_of=pendulum.datetime(2026, 12, 1, 10, tz="UTC"))
    (row,) = items(engine)
    assert row["due_at"] == datetime(2026, 12, 1, 14, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        route(engine, team, as_of=datetime(2026, 12, 1, 10))
