"""The CRM: push with an idempotency key against a strict fake, CSV export safe from formulas, paged pull."""

from __future__ import annotations

import csv
from datetime import timedelta

import pytest
import sqlalchemy as sa

from funnelflow.db.schema import ingest_rejects, leads, lifecycle_history, opportunities, sales_queue
from funnelflow.db.state import get_state
from funnelflow.sales.crm import (
    CURSOR_KEY,
    CrmClient,
    CrmError,
    export_csv,
    pull_opportunities,
    pull_opportunities_csv,
    push_handoffs,
    safe_cell,
)
from funnelflow.sales.routing import route
from funnelflow.sales.team import team_from_text
from tests.fakes.crm import FakeCrm
from tests.sales.factories import AS_OF, TEAM_YAML, add_sql_lead


@pytest.fixture
def team():
    return team_from_text(TEAM_YAML)


@pytest.fixture
def crm():
    with FakeCrm() as fake:
        yield fake


def client(fake, **kw):
    return CrmClient(fake.base_url, fake.api_key, sleep=lambda s: None, **kw)


def _items(engine):
    with engine.connect() as conn:
        return conn.execute(sa.select(sales_queue).order_by(sales_queue.c.id)).mappings().all()


def test_push_once_per_item_retrying_5xx_and_recording_4xx(engine, team, crm):
    add_sql_lead(engine, "a@x.example", country="US", first_name="Ana")
    add_sql_lead(engine, "b@x.example", country="US")
    route(engine, team, as_of=AS_OF)
    crm.fail_next = 2  # two 503s, then it works: retried with backoff
    crm.reject_ref = "funnelflow-item-2"
    result = push_handoffs(engine, client(crm), as_of=AS_OF)
    assert (result.pushed, result.failed) == (1, 1)
    first, second = _items(engine)
    assert (first["crm_status"], first["crm_external_id"]) == ("pushed", "crm-1")
    assert second["crm_status"] == "failed" and second["crm_error"].startswith("HTTP 400")
    assert "b@x.example" not in second["crm_error"]  # the CRM quoted the address: scrubbed
    assert crm.records["crm-1"]["lead"]["first_name"] == "Ana"
    # A rerun pushes nothing again; the failed item waits for a person (shown by `sales queue`).
    assert push_handoffs(engine, client(crm), as_of=AS_OF).pushed == 0
    assert len(crm.records) == 1


def test_a_lost_answer_is_retried_under_the_same_key_and_makes_no_second_record(engine, team, crm):
    add_sql_lead(engine, "a@x.example", country="US")
    route(engine, team, as_of=AS_OF)
    push_handoffs(engine, client(crm), as_of=AS_OF)
    with engine.begin() as conn:  # as if the commit after the CRM's 201 had been lost
        conn.execute(sales_queue.update().values(crm_status=None, crm_external_id=None))
    push_handoffs(engine, client(crm), as_of=AS_OF)
    assert len(crm.records) == 1 and _items(engine)[0]["crm_external_id"] == "crm-1"


def test_wrong_key_and_a_dead_crm_raise(engine, team, crm):
    add_sql_lead(engine, "a@x.example", country="US")
    route(engine, team, as_of=AS_OF)
    with pytest.raises(CrmError, match="refused our key"):
        push_handoffs(engine, CrmClient(crm.base_url, "wrong", sleep=lambda s: None), as_of=AS_OF)
    crm.fail_next = 10
    with pytest.raises(CrmError, match="kept failing"):
        push_handoffs(engine, client(crm, max_retries=2), as_of=AS_OF)
    assert _items(engine)[0]["crm_status"] is None  # nothing recorded: the next run tries again


@pytest.mark.parametrize("cell", ["=1+1", "+49 30 1234", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_are_neutralised(cell):
    assert safe_cell(cell) == "'" + cell
    assert safe_cell("Acme") == "Acme" and safe_cell(None) == ""


def test_csv_export_once_per_item_and_the_same_file_on_rerun(engine, team, tmp_path):
    add_sql_lead(
        engine, "a@x.example", country="US", company='=HYPERLINK("http://evil")', phone="+1 555 0100"
    )
    route(engine, team, as_of=AS_OF)
    first = export_csv(engine, as_of=AS_OF, folder=tmp_path)
    content = (tmp_path / first.file).read_text()
    again = export_csv(engine, as_of=AS_OF, folder=tmp_path)
    assert again.file == first.file and (tmp_path / first.file).read_text() == content
    assert export_csv(engine, as_of=AS_OF + timedelta(minutes=30), folder=tmp_path).exported == 0
    (row,) = list(csv.DictReader(content.splitlines()))
    assert row["company"] == '\'=HYPERLINK("http://evil")' and row["phone"] == "'+1 555 0100"
    assert row["owner"] == "marcus" and row["external_ref"] == "funnelflow-item-1"


def _opp(ext, lead_id, stage, updated, **kw):
    return {
        "id": ext,
        "lead_id": lead_id,
        "owner": "marcus",
        "amount": "12000.50",
        "currency": "eur",
        "kind": "new",
        "stage": stage,
        "created_at": "2026-12-02T10:00:00Z",
        "updated_at": updated,
        **kw,
    }


def test_pull_pages_with_a_cursor_and_moves_stages(engine, team, crm):
    won = add_sql_lead(engine, "w@x.example", country="US")
    lost = add_sql_lead(engine, "l@x.example", country="US")
    route(engine, team, as_of=AS_OF)
    crm.opportunities = [
        _opp("o1", won, "open", "2026-12-02T10:00:00Z"),
        _opp("o2", lost, "open", "2026-12-02T10:00:00Z"),
        _opp("o3", 999_999, "open", "2026-12-02T10:00:00Z"),  # no such lead: set aside
        _opp(
            "o1",
            won,
            "won",
            "2026-12-05T10:00:00Z",
            closed_at="2026-12-05T10:00:00Z",
            renewal_date="2027-12-05",
        ),
        _opp("o2", lost, "lost", "2026-12-06T10:00:00Z", closed_at="2026-12-06T10:00:00Z"),
    ]
    result = pull_opportunities(engine, client(crm), as_of=AS_OF + timedelta(days=7), page_size=2)
    assert (result.pages, result.upserted, result.rejected) == (3, 4, 1)
    with engine.connect() as conn:
        stages = dict(conn.execute(sa.select(leads.c.id, leads.c.lifecycle_stage)).all())
        opp = (
            conn.execute(sa.select(opportunities).where(opportunities.c.external_id == "o1")).mappings().one()
        )
        path = (
            conn.execute(
                sa.select(lifecycle_history.c.to_stage)
                .where(lifecycle_history.c.lead_id == won)
                .order_by(lifecycle_history.c.id)
            )
            .scalars()
            .all()
        )
        assert get_state(conn, CURSOR_KEY) == "c5"
        reject = conn.execute(sa.select(ingest_rejects.c.reason)).scalar_one()
    assert (stages[won], stages[lost]) == ("customer", "recycled")
    assert path == ["sql", "opportunity", "customer"]
    assert (opp["stage"], str(opp["amount"]), opp["currency"], str(opp["renewal_date"])) == (
        "won",
        "12000.50",
        "EUR",
        "2027-12-05",
    )
    assert reject == "opportunity lead_id: no such lead in funnelflow"
    assert [i["status"] for i in _items(engine)] == ["won", "lost"]
    # The next pull starts at the stored cursor: nothing new, nothing changed.
    again = pull_opportunities(engine, client(crm), as_of=AS_OF + timedelta(days=8), page_size=2)
    assert (again.upserted, again.stage_changes) == (0, 0)


def test_pull_from_a_crm_csv_export(engine):
    lead_id = add_sql_lead(engine, "w@x.example", country="US")
    text = (
        "id,lead_id,stage,kind,amount,currency,created_at,updated_at\n"
        f"o9,{lead_id},open,new,5,USD,2026-12-02T10:00:00+00:00,2026-12-02T10:00:00+00:00\n"
        f"o10,{lead_id},maybe,new,5,USD,2026-12-02T10:00:00+00:00,\n"
    )
    result = pull_opportunities_csv(engine, text, as_of=AS_OF)
    assert (result.upserted, result.rejected) == (1, 1)
    assert "stage: 'maybe' is not one of" in result.rejects[0][1]


def test_opportunity_files_from_the_lead_inbox_crm_folder(engine, tmp_path):
    import fsspec

    from funnelflow.sales.crm import pull_opportunity_files

    lead_id = add_sql_lead(engine, "w@x.example", country="US")
    folder = tmp_path / "inbox" / "crm"
    folder.mkdir(parents=True)
    (folder / "opps.csv").write_text(
        f"id,lead_id,stage,kind,created_at,updated_at\no7,{lead_id},won,new,2026-12-02T10:00:00+00:00,2026-12-03T10:00:00+00:00\n"
    )
    fs = fsspec.filesystem("file")
    result = pull_opportunity_files(engine, fs, str(tmp_path / "inbox"), as_of=AS_OF)
    assert (result.upserted, result.stage_changes) == (1, 1)
    assert (folder / "done" / "opps.csv").exists() and not (folder / "opps.csv").exists()
    assert pull_opportunity_files(engine, fs, str(tmp_path / "inbox"), as_of=AS_OF).upserted == 0
    with engine.connect() as conn:
        assert conn.execute(sa.select(leads.c.lifecycle_stage)).scalar_one() == "customer"
