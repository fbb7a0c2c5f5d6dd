"""The maintained origins and first stage entries equal a full recomputation after every kind of
change (funnelflow.metrics.origins), and the weeks computed from them are the weeks a full build
gives.

The oracle is the staging the metrics used before the tables were maintained, written out here
as it was (stg_lead_owner, then every touchpoint ranked per counted lead, and the first entry per
counted lead and stage over all lifecycle_history), computed independently of the module."""

from __future__ import annotations

import random
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from funnelflow import sql
from funnelflow.db.schema import (
    UTCDateTime,
    leads,
    lifecycle_history,
    metrics_first_stage_entry,
    metrics_lead_changes,
    metrics_lead_origin,
    touchpoints,
)
from funnelflow.metrics import origins
from funnelflow.metrics.compute import COMPUTED_TABLES, compute_weeks
from funnelflow.metrics.weeks import Week
from funnelflow.privacy.forget import forget_person, parse_subject
from funnelflow.qualify import dedupe

from .helpers import add_lead, add_stage, add_touch, at

ORACLE_ORIGIN = """
with owned_touches as (
    select coalesce(o.owner_id, t.lead_id) as lead_id, t.id as touch_id, t.occurred_at, t.channel,
           t.source, t.campaign
    from touchpoints t left join oracle_owner o on o.lead_id = t.lead_id
),
ranked_touches as (
    select owned_touches.*,
           row_number() over (partition by lead_id order by occurred_at, touch_id) as touch_rank
    from owned_touches
)
select lead_id, occurred_at as first_touch_at, channel, coalesce(source, '(none)') as source,
       coalesce(campaign, '(none)') as campaign
from ranked_touches where touch_rank = 1
"""
ORACLE_FIRST_ENTRY = """
select coalesce(o.owner_id, h.lead_id) as lead_id, h.to_stage as stage, min(h.changed_at) as first_at
from lifecycle_history h left join oracle_owner o on o.lead_id = h.lead_id
group by coalesce(o.owner_id, h.lead_id), h.to_stage
"""


def oracle(conn: sa.Connection) -> tuple[set, set]:
    owner = sql.source("metrics/stg_lead_owner", conn.dialect.name)
    conn.execute(sa.text("drop table if exists oracle_owner"))
    conn.execute(sa.text(f"create temporary table oracle_owner as {owner}"))
    origin = set(conn.execute(sa.text(ORACLE_ORIGIN).columns(first_touch_at=UTCDateTime())).tuples())
    entries = set(conn.execute(sa.text(ORACLE_FIRST_ENTRY).columns(first_at=UTCDateTime())).tuples())
    conn.execute(sa.text("drop table oracle_owner"))
    return origin, entries


def maintained(conn: sa.Connection) -> tuple[set, set]:
    o, e = metrics_lead_origin.c, metrics_first_stage_entry.c
    return (
        set(conn.execute(sa.select(o.lead_id, o.first_touch_at, o.channel, o.source, o.campaign)).tuples()),
        set(conn.execute(sa.select(e.lead_id, e.stage, e.first_at)).tuples()),
    )


def refresh(engine: sa.Engine, **kw) -> origins.Refresh:
    with engine.connect() as conn:
        return origins.refresh(conn, **kw)


def assert_equal_to_full(engine: sa.Engine) -> origins.Refresh:
    """Refresh, then the tables are exactly the full recomputation."""
    result = refresh(engine)
    with engine.connect() as conn:
        want = oracle(conn)
        got = maintained(conn)
    assert got[0] == want[0]
    assert got[1] == want[1]
    return result


def origin_of(engine: sa.Engine, lead_id: int):
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(metrics_lead_origin.c.first_touch_at, metrics_lead_origin.c.channel).where(
                metrics_lead_origin.c.lead_id == lead_id
            )
        ).first()
    return None if row is None else tuple(row)


def entries_of(engine: sa.Engine, lead_id: int) -> dict:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                sa.select(metrics_first_stage_entry.c.stage, metrics_first_stage_entry.c.first_at).where(
                    metrics_first_stage_entry.c.lead_id == lead_id
                )
            ).all()
        )


@pytest.fixture
def built(engine):
    """Three leads with touches and stages, the tables built in full once (as after the migration)."""
    with engine.begin() as conn:
        for lead_id in (1, 2, 3):
            add_lead(conn, lead_id)
        add_touch(conn, 1, at(10), "web_form", campaign="a", touch_id=10)
        add_touch(conn, 1, at(12), "email", touch_id=20)
        add_touch(conn, 2, at(11), "ad_form", source=None, touch_id=30)
        add_touch(conn, 3, at(14), "webinar", campaign="w", touch_id=40)
        add_stage(conn, 1, "mql", at(12))
        add_stage(conn, 2, "mql", at(13))
        add_stage(conn, 2, "sql", at(15))
    first = assert_equal_to_full(engine)
    assert (first.mode, first.reason) == ("full", "never built")
    return engine


def test_nothing_changed_nothing_done_and_every_refresh_empties_the_notes(built):
    again = assert_equal_to_full(built)
    assert (again.mode, again.changed_leads) == ("none", 0)
    with built.connect() as conn:
        assert origins.pending_changes(conn) == 0


def test_a_new_lead_with_its_first_touch(built):
    with built.begin() as conn:
        add_lead(conn, 4)
        add_touch(conn, 4, at(16), "ad_form", campaign="b")
        add_stage(conn, 4, "mql", at(17))
    result = assert_equal_to_full(built)
    assert result.mode == "leads" and result.refreshed_leads == 1
    assert origin_of(built, 4) == (at(16), "ad_form")
    assert entries_of(built, 4) == {"mql": at(17)}


def test_a_late_touch_earlier_than_the_first_changes_the_origin(built):
    with built.begin() as conn:
        add_touch(conn, 1, at(9), "file_import", source="tradeshow")  # arrives late, happened first
        add_touch(conn, 2, at(20), "web")  # later than the first: origin stays
    assert_equal_to_full(built)
    assert origin_of(built, 1) == (at(9), "file_import")
    assert origin_of(built, 2) == (at(11), "ad_form")


def test_ties_go_by_occurred_at_then_id(built):
    with built.begin() as conn:
        add_touch(conn, 3, at(14), "email", touch_id=41)  # same instant as its first touch, higher id
        add_touch(conn, 2, at(11), "web", touch_id=5)  # same instant as lead 2's first, lower id: first
    assert_equal_to_full(built)
    assert origin_of(built, 3) == (at(14), "webinar")
    assert origin_of(built, 2) == (at(11), "web")


def test_a_touch_on_a_lead_merged_away_counts_for_its_survivor(built):
    with built.begin() as conn:
        add_lead(conn, 5, merged_into=3)
        add_touch(conn, 5, at(8), "ad_form")
        add_stage(conn, 5, "sql", at(9))
    assert_equal_to_full(built)
    assert origin_of(built, 5) is None  # merged away: not counted itself
    assert origin_of(built, 3) == (at(8), "ad_form")
    assert entries_of(built, 3) == {"sql": at(9)}


def test_a_merge_and_its_undo(built):
    with built.begin() as conn:
        merge_id = dedupe.merge(conn, 1, 2, method="review", similarity=99.0, actor="test")
    assert_equal_to_full(built)
    assert origin_of(built, 2) is None
    assert origin_of(built, 1) == (at(10), "web_form")
    assert entries_of(built, 1) == {"mql": at(12), "sql": at(15)}  # the loser's sql counts for the winner
    assert entries_of(built, 2) == {}
    with built.begin() as conn:
        add_touch(conn, 2, at(7), "web")  # after the merge, on the loser's id: the survivor's now
    assert_equal_to_full(built)
    assert origin_of(built, 1) == (at(7), "web")
    with built.begin() as conn:
        dedupe.undo_merge(conn, merge_id, actor="test")
    assert_equal_to_full(built)
    assert origin_of(built, 1) == (at(10), "web_form")
    assert origin_of(built, 2) == (at(7), "web")
    assert entries_of(built, 2) == {"mql": at(13), "sql": at(15)}


def test_merge_chains_and_undoing_the_middle(built):
    with built.begin() as conn:
        first = dedupe.merge(conn, 2, 3, method="auto", similarity=99.0, actor="test")
        dedupe.merge(conn, 1, 2, method="auto", similarity=99.0, actor="test")  # 3 -> 2 -> 1
        add_lead(conn, 6, merged_into=3)  # arrives already merged into the chain's tail
        add_touch(conn, 6, at(5), "email")
    assert_equal_to_full(built)
    assert origin_of(built, 1) == (at(5), "email")
    assert {origin_of(built, i) for i in (2, 3, 6)} == {None}
    with built.begin() as conn:
        dedupe.undo_merge(conn, first, actor="test")  # 3 comes back (with 6 merged into it)
    assert_equal_to_full(built)
    assert origin_of(built, 3) == (at(5), "email")
    assert origin_of(built, 1) == (at(10), "web_form")


def test_new_stage_changes_and_an_earlier_one(built):
    with built.begin() as conn:
        add_stage(conn, 1, "sql", at(16))
        add_stage(conn, 2, "mql", at(3))  # an earlier first entry
    assert_equal_to_full(built)
    assert entries_of(built, 1) == {"mql": at(12), "sql": at(16)}
    assert entries_of(built, 2) == {"mql": at(3), "sql": at(15)}


def test_updates_and_deletes_of_the_rows_read(built):
    with built.begin() as conn:
        conn.execute(
            touchpoints.delete().where(touchpoints.c.lead_id == 1, touchpoints.c.occurred_at == at(10))
        )
        conn.execute(touchpoints.update().where(touchpoints.c.lead_id == 2).values(channel="web"))
        conn.execute(
            touchpoints.update().where(touchpoints.c.lead_id == 3).values(lead_id=2)
        )  # moved by hand
        conn.execute(lifecycle_history.update().where(lifecycle_history.c.lead_id == 2).values(lead_id=3))
    assert_equal_to_full(built)
    assert origin_of(built, 1) == (at(12), "email")
    assert origin_of(built, 2) == (at(11), "web")
    assert origin_of(built, 3) is None  # no touch left
    assert entries_of(built, 3) == {"mql": at(13), "sql": at(15)}
    with built.begin() as conn:
        conn.execute(touchpoints.update().values(page_url="https://x.io/"))  # a column not read: no note
    assert refresh(built).mode == "none"


def test_a_lead_deleted_takes_its_rows_and_frees_its_merged_leads(built):
    with built.begin() as conn:
        add_lead(conn, 7, merged_into=2)
        add_touch(conn, 7, at(6), "web")
    assert_equal_to_full(built)
    with built.begin() as conn:
        conn.execute(leads.delete().where(leads.c.id == 2))  # cascades its rows; 7 is its own lead again
    assert_equal_to_full(built)
    assert origin_of(built, 2) is None
    assert origin_of(built, 7) == (at(6), "web")


def test_forgetting_a_person_leaves_the_origins_and_the_weeks_alone(built):
    week = Week.parse("2026-W46", ZoneInfo("UTC"))
    compute_weeks(built, [week])
    before = _weeks(built), _maintained(built)
    forget_person(built, parse_subject("lead:1"), at(20))
    assert_equal_to_full(built)
    compute_weeks(built, [week])
    assert (_weeks(built), _maintained(built)) == before


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_truncate_rebuilds_in_full(built):
    with built.begin() as conn:
        conn.execute(sa.text("truncate lifecycle_history"))
    result = assert_equal_to_full(built)
    assert (result.mode, result.reason) == ("full", "a watched table was truncated")


def test_a_bulk_change_rebuilds_in_full(built, monkeypatch):
    monkeypatch.setattr(origins, "FULL_REBUILD_SHARE", 0.0)
    monkeypatch.setattr(origins, "FULL_REBUILD_MIN", 0)
    with built.begin() as conn:
        add_touch(conn, 3, at(1), "web")
    result = assert_equal_to_full(built)
    assert result.mode == "full"


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_change_committed_after_a_later_id_is_not_missed(built):
    # PostgreSQL hands out ids when rows are written, not when they commit: a touch with a lower id
    # can commit after a refresh saw a higher one. Its note commits with it and waits.
    slow = built.connect()
    tx = slow.begin()
    slow_touch = add_touch(slow, 2, at(2), "file_import")  # lower id, not committed yet
    with built.begin() as conn:
        fast_touch = add_touch(conn, 3, at(3), "web")
    assert slow_touch < fast_touch
    assert_equal_to_full(built)  # sees only the committed touch
    assert origin_of(built, 3) == (at(3), "web")
    tx.commit()
    slow.close()
    result = assert_equal_to_full(built)
    assert (result.mode, result.changed_leads) == ("leads", 1)
    assert origin_of(built, 2) == (at(2), "file_import")


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_merge_committing_during_a_refresh_is_seen_whole_or_not_at_all(built):
    # The refresh reads one snapshot (REPEATABLE READ): a merge committed between its statements
    # must not be half seen (the winner with the loser's touches while the loser keeps its row).
    with built.begin() as conn:
        add_touch(conn, 1, at(2), "email")
        add_touch(conn, 3, at(1), "web")
    with built.connect() as conn:
        before = oracle(conn)
    fired = []

    def merge_midway(conn, cursor, statement, parameters, context, executemany):
        if not fired and statement.lstrip().startswith("insert into metrics_lead_origin"):
            fired.append(True)
            with built.begin() as other:
                dedupe.merge(other, 1, 3, method="auto", similarity=99.0, actor="t")

    sa.event.listen(built, "before_cursor_execute", merge_midway)
    try:
        first = refresh(built)
    finally:
        sa.event.remove(built, "before_cursor_execute", merge_midway)
    assert fired and first.mode == "leads"
    with built.connect() as conn:
        assert maintained(conn) == before  # the state the notes were taken in, whole
    result = assert_equal_to_full(built)  # the merge's notes waited for this refresh
    assert result.mode == "leads" and origin_of(built, 3) is None
    assert origin_of(built, 1) == (at(1), "web")


def test_random_changes_always_equal_the_full_recomputation(engine):
    rnd = random.Random(15)
    channels = ("web_form", "ad_form", "email", "webinar", "web")
    stages = ("mql", "sql", "opportunity", "customer", "recycled")
    with engine.begin() as conn:
        for lead_id in range(1, 31):
            add_lead(conn, lead_id)
    merges: list[int] = []
    for step in range(60):
        with engine.begin() as conn:
            for _ in range(rnd.randint(1, 4)):
                kind = rnd.random()
                lead_id = rnd.randint(1, 30)
                when = at(1) + timedelta(days=rnd.randint(0, 40), hours=rnd.randint(0, 23))
                if kind < 0.45:
                    add_touch(
                        conn, lead_id, when, rnd.choice(channels), campaign=rnd.choice((None, "a", "b"))
                    )
                elif kind < 0.7:
                    add_stage(conn, lead_id, rnd.choice(stages), when)
                elif kind < 0.82:
                    winner, loser = rnd.sample(range(1, 31), 2)
                    try:
                        merges.append(
                            dedupe.merge(conn, winner, loser, method="auto", similarity=99.0, actor="t")
                        )
                    except dedupe.MergeError:
                        pass
                elif kind < 0.9 and merges:
                    dedupe.undo_merge(conn, merges.pop(rnd.randrange(len(merges))), actor="t")
                elif kind < 0.95:
                    first = conn.execute(
                        sa.select(touchpoints.c.id).where(touchpoints.c.lead_id == lead_id).limit(1)
                    ).scalar()
                    if first is not None:
                        conn.execute(
                            touchpoints.update().where(touchpoints.c.id == first).values(occurred_at=when)
                        )
                else:
                    conn.execute(touchpoints.delete().where(touchpoints.c.id == rnd.randint(1, 200)))
        if step % 3 == 0 or step == 59:
            assert_equal_to_full(engine)


def _weeks(engine: sa.Engine) -> dict:
    with engine.connect() as conn:
        return {
            t.name: sorted(tuple(map(str, r)) for r in conn.execute(sa.select(t))) for t in COMPUTED_TABLES
        }


def _maintained(engine: sa.Engine) -> tuple:
    with engine.connect() as conn:
        return maintained(conn)


def test_weeks_from_refreshed_tables_equal_weeks_from_a_full_build(engine):
    rnd = random.Random(7)
    tz = ZoneInfo("UTC")
    weeks = [Week.parse(f"2026-W{n}", tz) for n in (45, 46, 47)]
    with engine.begin() as conn:
        for lead_id in range(1, 41):
            add_lead(conn, lead_id, merged_into=lead_id - 1 if lead_id % 9 == 0 else None)
            for _ in range(rnd.randint(0, 3)):
                add_touch(
                    conn, lead_id, at(1) + timedelta(days=rnd.randint(0, 25)), rnd.choice(("web", "email"))
                )
            add_stage(
                conn,
                lead_id,
                rnd.choice(("mql", "sql", "customer")),
                at(5) + timedelta(days=rnd.randint(0, 20)),
            )
    compute_weeks(engine, weeks)  # builds the tables in full
    with engine.begin() as conn:  # then: late touches, a merge, an undone merge, new stages
        for lead_id in range(1, 41, 4):
            add_touch(conn, lead_id, at(2) + timedelta(hours=lead_id), "ad_form", campaign="late")
            add_stage(conn, lead_id, "sql", at(17) + timedelta(hours=lead_id))
        undo = dedupe.merge(conn, 3, 5, method="auto", similarity=99.0, actor="t")
        dedupe.merge(conn, 10, 11, method="auto", similarity=99.0, actor="t")
        dedupe.undo_merge(conn, undo, actor="t")
    compute_weeks(engine, weeks)  # refreshes the changed leads only
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(metrics_lead_changes)).scalar_one() == 0
    incremental = _weeks(engine), _maintained(engine)
    refresh(engine, full=True)
    compute_weeks(engine, weeks)
    assert (_weeks(engine), _maintained(engine)) == incremental
    assert any(r for r in incremental[0]["funnel_weekly"] if "late" in r)


def test_the_command_refreshes_and_rebuilds(built, marketing_db_env, capsys):
    import json

    from funnelflow.cli import main

    with built.begin() as conn:
        add_touch(conn, 3, at(2), "ad_form")
    assert main(["report", "origins"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["mode"], out["changed_leads"]) == ("leads", 1)
    assert origin_of(built, 3) == (at(2), "ad_form")
    assert main(["report", "origins", "--full"]) == 0
    assert json.loads(capsys.readouterr().out)["mode"] == "full"
    assert_equal_to_full(built)
