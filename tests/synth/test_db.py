"""Loading the marketing database: consistent keys, honest touchpoints, both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from funnelflow.db.schema import (
    CHANNELS,
    LIFECYCLE_STAGES,
    TOUCH_TYPES,
    accounts,
    consents,
    leads,
    lifecycle_history,
    touchpoints,
)
from funnelflow.identity import email_key
from funnelflow.synth import db as synth_db
from funnelflow.synth.db import iter_blocks, load_database
from funnelflow.synth.reference import load_companies

UNTIL = datetime(2026, 11, 23, 12, tzinfo=UTC)


def _structure(engine: sa.Engine) -> dict:
    insp = sa.inspect(engine)
    return {
        t: (
            sorted(i["name"] for i in insp.get_indexes(t)),
            sorted(str(u["name"]) for u in insp.get_unique_constraints(t)),
            sorted(str(f["name"]) for f in insp.get_foreign_keys(t)),
        )
        for t in ("leads", "touchpoints", "consents", "lifecycle_history")
    }


def test_load_is_consistent(engine):
    before = _structure(engine)
    result = load_database(engine, 300, seed=3, until=UNTIL, touchpoints_per_lead=4, weeks=6)
    # On PostgreSQL the bulk path drops and rebuilds indexes and constraints; all must be back.
    assert _structure(engine) == before
    with engine.connect() as conn:
        lead_rows = conn.execute(sa.select(leads)).mappings().all()
        touch_rows = (
            conn.execute(sa.select(touchpoints).order_by(touchpoints.c.lead_id, touchpoints.c.occurred_at))
            .mappings()
            .all()
        )
        consent_rows = conn.execute(sa.select(consents)).mappings().all()
        account_rows = {r.id: r for r in conn.execute(sa.select(accounts))}
        history = {r.lead_id: r for r in conn.execute(sa.select(lifecycle_history))}
    assert result.leads == len(lead_rows) == 300
    assert result.touchpoints == len(touch_rows) and 300 * 3 < len(touch_rows) < 300 * 5
    assert result.consents == len(consent_rows) == 300
    assert result.accounts == len(account_rows) == len(load_companies())
    assert sum(bool(a.competitor) for a in account_rows.values()) == int(load_companies()["competitor"].sum())

    lead_ids = {r["id"] for r in lead_rows}
    keys = [r["email_key"] for r in lead_rows]
    assert len(set(keys)) == 300
    for r in lead_rows:
        assert r["email"] == r["email"].lower() and r["email_key"] == email_key(r["email"])
        assert r["email_domain"] == r["email"].split("@")[1]
        assert r["lifecycle_stage"] in LIFECYCLE_STAGES
        assert r["first_seen_at"] <= r["last_seen_at"] < UNTIL
        if r["account_id"] is not None:
            assert account_rows[r["account_id"]].domain == r["email_domain"]
    # Every lead past 'lead' has the history row that put it there, at the time it says.
    moved = {r["id"]: r for r in lead_rows if r["lifecycle_stage"] != "lead"}
    assert set(history) == set(moved)
    for lead_id, h in history.items():
        assert (
            h.to_stage == moved[lead_id]["lifecycle_stage"]
            and h.changed_at == moved[lead_id]["lifecycle_changed_at"]
        )
    stages = [r["lifecycle_stage"] for r in lead_rows]
    assert stages.count("lead") > 150 and {"mql", "sql", "customer"} & set(stages)

    assert {t["lead_id"] for t in touch_rows} == lead_ids
    assert {c["lead_id"] for c in consent_rows} == lead_ids
    assert {c["status"] for c in consent_rows} <= {"granted", "pending", "denied"}
    assert [c["status"] for c in consent_rows].count("granted") > 200
    assert len({t["source_ref"] for t in touch_rows}) == len(touch_rows)
    assert {t["touch_type"] for t in touch_rows} <= set(TOUCH_TYPES)
    assert {t["channel"] for t in touch_rows} <= set(CHANNELS)
    by_lead: dict[int, list] = {}
    for t in touch_rows:
        by_lead.setdefault(t["lead_id"], []).append(t)
        assert t["occurred_at"] < UNTIL
        if t["touch_type"] == "form_fill":
            assert t["page_url"].startswith("https://www.example.com/")
        if t["touch_type"] == "page_view":
            assert t["detail"] == {"url": t["page_url"]}  # a JSON object on both backends, not JSON text
        if t["touch_type"] == "import":
            assert t["utm_source"] is None and t["campaign"] == t["source"]
        if t["channel"] == "email":
            assert t["utm_medium"] == "email"
    for r in lead_rows:
        touches = by_lead[r["id"]]
        assert touches[0]["occurred_at"] == r["first_seen_at"]
        assert max(t["occurred_at"] for t in touches) == r["last_seen_at"]
        assert touches[0]["source"] == r["original_source"]


def test_second_load_appends_new_people(engine):
    first = load_database(engine, 120, seed=5, until=UNTIL, touchpoints_per_lead=2)
    structure = _structure(engine)
    # Fewer than the table holds: the plain path, indexes kept in place (on PostgreSQL).
    second = load_database(engine, 60, seed=5, until=UNTIL, touchpoints_per_lead=2)
    assert second.first_lead_id == first.first_lead_id + 120
    assert _structure(engine) == structure
    with engine.begin() as conn:
        keys = conn.execute(sa.select(leads.c.email_key)).scalars().all()
        assert len(keys) == len(set(keys)) == 180
        refs = conn.execute(sa.select(touchpoints.c.source_ref)).scalars().all()
        assert len(refs) == len(set(refs)) == first.touchpoints + second.touchpoints
        # The id sequence was moved past the loaded ids: a normal insert still works.
        new_id = conn.execute(
            leads.insert()
            .values(email="x@example.org", email_key="x@example.org", created_at=UNTIL, updated_at=UNTIL)
            .returning(leads.c.id)
        ).scalar_one()
        assert new_id > first.first_lead_id + 179


def test_blocks_are_deterministic():
    ids = {d: i for i, d in enumerate(load_companies()["domain"], start=1)}

    def run(seed):
        return list(
            iter_blocks(
                250,
                first_id=1,
                account_ids=ids,
                seed=seed,
                until=UNTIL,
                weeks=4,
                touchpoints_per_lead=3,
                block_size=100,
            )
        )

    a, b, c = run(1), run(1), run(2)
    assert len(a) == 3
    for x, y in zip(a, b, strict=True):
        assert all(pd.Series(x.leads[k]).equals(pd.Series(y.leads[k])) for k in x.leads)
        assert np.array_equal(x.touchpoints.occurred_at, y.touchpoints.occurred_at)
        assert all(
            np.array_equal(x.touchpoints.codes[k], y.touchpoints.codes[k]) for k in x.touchpoints.codes
        )
    assert not np.array_equal(a[0].leads["email"], c[0].leads["email"])


def test_no_touchpoints(engine):
    result = load_database(engine, 50, seed=1, until=UNTIL, touchpoints_per_lead=0)
    assert result.touchpoints == 0
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(touchpoints)).scalar_one() == 0
        assert (
            conn.execute(
                sa.select(sa.func.count()).select_from(leads).where(leads.c.original_source.is_not(None))
            ).scalar_one()
            == 50
        )


def test_a_failed_load_leaves_nothing_behind(engine, monkeypatch):
    structure = _structure(engine)
    calls = {"n": 0}
    real_touch_codes = synth_db.touch_codes

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real_touch_codes(*args, **kwargs)

    monkeypatch.setattr(synth_db, "touch_codes", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        load_database(engine, 40, seed=1, until=UNTIL, touchpoints_per_lead=2, block_size=20)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(leads)).scalar_one() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(accounts)).scalar_one() == 0
    assert _structure(engine) == structure  # dropped indexes came back with the rollback
