"""Merges keep every row of both leads and can be undone;
two business emails are never joined without review."""

from __future__ import annotations

import sqlalchemy as sa

from funnelflow.db.schema import (
    consents,
    lead_merges,
    leads,
    lifecycle_history,
    merge_candidates,
    touchpoints,
)
from funnelflow.qualify.dedupe import find_and_merge, undo_merge
from tests.factories import AS_OF, touch
from tests.qualify.factories import add_lead, lead_row


def _rows_of(engine, table, lead_id):
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(table.c.id).where(table.c.lead_id == lead_id)).scalars())


def _with_history(engine, lead_id, stage):
    with engine.begin() as conn:
        conn.execute(consents.insert().values(lead_id=lead_id, status="granted", recorded_at=AS_OF))
        conn.execute(
            lifecycle_history.insert().values(
                lead_id=lead_id, from_stage=None, to_stage=stage, changed_at=AS_OF, reason="test"
            )
        )
    touch(engine, lead_id, "page_view", 1, "https://www.example.com/")


def test_a_sure_duplicate_is_merged_with_all_its_rows_and_the_merge_can_be_undone(engine):
    person = dict(first_name="Jane", last_name="Doe", company="Acme GmbH", phone_e164="+4930123456")
    work = add_lead(engine, "jane.doe@acme.example", **person)
    private = add_lead(
        engine, "janedoe77@gmail.com", email_free=True, job_title="CMO", **{**person, "company": "ACME GmbH"}
    )
    for lead_id in (work, private):
        _with_history(engine, lead_id, "lead")
    before = {
        t.name: (_rows_of(engine, t, work), _rows_of(engine, t, private))
        for t in (touchpoints, consents, lifecycle_history)
    }

    result = find_and_merge(engine)

    assert result.merged == 1
    assert lead_row(engine, private).merged_into_id == work
    assert lead_row(engine, work).job_title == "CMO"  # the survivor's blank filled from the other
    for table in (touchpoints, consents, lifecycle_history):
        mine, theirs = before[table.name]
        assert _rows_of(engine, table, work) == sorted(mine + theirs)  # nothing lost, nothing copied
    with engine.connect() as conn:
        merge_id = conn.execute(sa.select(lead_merges.c.id)).scalar_one()

    with engine.begin() as conn:
        undo_merge(conn, merge_id, actor="ops")

    assert lead_row(engine, private).merged_into_id is None
    assert lead_row(engine, work).job_title is None
    for table in (touchpoints, consents, lifecycle_history):
        assert (_rows_of(engine, table, work), _rows_of(engine, table, private)) == before[table.name]
    assert find_and_merge(engine).merged == 0  # an undone pair is never merged automatically again


def test_two_business_emails_go_to_review_and_are_merged_only_when_accepted(engine, marketing_db_env, capsys):
    from funnelflow.cli import main

    person = dict(first_name="Max", last_name="Muster", company="Muster AG", phone_e164="+4989123456")
    a = add_lead(engine, "max@muster.example", **person)
    b = add_lead(engine, "m.muster@muster-group.example", **person)
    result = find_and_merge(engine)
    assert (result.merged, result.for_review) == (0, 1)
    assert lead_row(engine, b).merged_into_id is None
    assert find_and_merge(engine, lead_ids=[a, b]).for_review == 0  # listed once

    with engine.connect() as conn:
        pair_id = conn.execute(sa.select(merge_candidates.c.id)).scalar_one()
    assert main(["merges", "list"]) == 0
    assert f"pair {pair_id}: leads {a} and {b}" in capsys.readouterr().out
    assert main(["merges", "accept", str(pair_id), "--by", "ops"]) == 0
    assert lead_row(engine, b).merged_into_id == a
    assert main(["merges", "accept", str(pair_id)]) == 2  # already decided
    with engine.connect() as conn:
        merge_id = conn.execute(sa.select(lead_merges.c.id)).scalar_one()
        assert conn.execute(sa.select(leads.c.id).where(leads.c.merged_into_id.is_not(None))).all() == [(b,)]
    assert main(["merges", "undo", str(merge_id)]) == 0
    assert lead_row(engine, b).merged_into_id is None
    assert main(["merges", "undo", str(merge_id)]) == 2
