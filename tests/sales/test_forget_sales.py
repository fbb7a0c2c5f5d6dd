"""Erasure, the sales part: nothing personal about an erased person stays in the queue, its history,
the CRM exports or the rep emails in the outbox; counts and coded reasons stay."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import sqlalchemy as sa

from funnelflow.db.schema import email_sends, leads, lifecycle_history, sales_queue, sales_queue_history
from funnelflow.privacy.forget import forget_person, parse_subject
from funnelflow.sales import crm, feedback
from funnelflow.sales.routing import route
from funnelflow.sales.team import team_from_text
from tests.sales.factories import AS_OF, TEAM_YAML, add_sql_lead

AT = AS_OF + timedelta(days=2)


def _history(engine, lead_id):
    with engine.connect() as conn:
        return (
            conn.execute(
                sa.select(sales_queue_history)
                .join(sales_queue, sales_queue.c.id == sales_queue_history.c.item_id)
                .where(sales_queue.c.lead_id == lead_id)
                .order_by(sales_queue_history.c.id)
            )
            .mappings()
            .all()
        )


def test_an_erased_person_leaves_nothing_personal_in_sales(engine, tmp_path):
    team = team_from_text(TEAM_YAML)
    ana = add_sql_lead(engine, "ana.berg@acme.example", AS_OF - timedelta(hours=2), country="US")
    bob = add_sql_lead(engine, "bob@other.example", AS_OF - timedelta(hours=1), country="US")
    route(engine, team, as_of=AS_OF)
    outbox = tmp_path / "outbox"
    crm.export_csv(engine, as_of=AS_OF, folder=outbox / "crm")
    with engine.begin() as conn:
        items = dict(conn.execute(sa.select(sales_queue.c.lead_id, sales_queue.c.id)).all())
        conn.execute(
            sales_queue.update()
            .where(sales_queue.c.id == items[ana])
            .values(crm_error="HTTP 409: contact Ana Berg exists")
        )
        alert = conn.execute(
            email_sends.insert()
            .values(
                message_key=f"sales-alert:{items[ana]}:marcus",
                recipient_hash="f" * 64,
                template="sales_item",
                kind="transactional",
                status="sent",
                claimed_at=AS_OF,
            )
            .returning(email_sends.c.id)
        ).scalar_one()
    (outbox / f"{alert}.eml").write_text("To: marcus@example.com\nSubject: New lead\n\nAna Berg, Acme")
    rejected = feedback.reject(
        engine,
        items[ana],
        "other",
        at=AS_OF + timedelta(hours=1),
        actor="rep:marcus",
        cooldown_days=30,
        note="Ana Berg (ana.berg@acme.example) said her boss decides",
    )
    assert rejected.status == "done"
    with engine.begin() as conn:  # a demo request later: Ana is an SQL again, with a new open item
        conn.execute(leads.update().where(leads.c.id == ana).values(lifecycle_stage="sql"))
        conn.execute(
            lifecycle_history.insert().values(
                lead_id=ana,
                from_stage="recycled",
                to_stage="sql",
                changed_at=AS_OF + timedelta(hours=3),
                reason="t",
            )
        )
    route(engine, team, as_of=AS_OF + timedelta(hours=3))

    result = forget_person(engine, parse_subject(str(ana)), AT, outbox=outbox)

    assert result.lead_ids == [ana]
    assert result.counts["sales_items"] == 2 and result.counts["sales_history"] == 1
    with engine.connect() as conn:
        all_rows = conn.execute(sa.select(sales_queue).order_by(sales_queue.c.id)).mappings().all()
    rows = {r["lead_id"]: r for r in all_rows[:2]}
    ana_again = all_rows[2]
    # the rejection keeps its coded reason (counts by reason stay), the free text goes
    assert (rows[ana]["status"], rows[ana]["outcome_reason"], rows[ana]["crm_error"]) == (
        "rejected",
        "other",
        None,
    )
    assert rows[ana]["crm_external_id"] is None
    # the open item of the same person is closed: nothing more is sent or pushed about them
    assert (ana_again["lead_id"], ana_again["status"], ana_again["outcome_reason"]) == (
        ana,
        "closed",
        "erased",
    )
    details = [h["detail"] for h in _history(engine, ana)]
    assert {"reason": "other"} in details
    assert not any("note" in (d or {}) for d in details)
    text = repr(details) + repr([dict(r) for r in all_rows if r["lead_id"] == ana])
    assert "Ana" not in text and "acme" not in text
    # Bob keeps everything
    assert rows[bob]["status"] == "open" and rows[bob]["crm_status"] == "exported"

    (export,) = (outbox / "crm").glob("*.csv")
    lines = export.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3  # header, Ana's blanked row, Bob's row: line numbers stay
    assert "ana" not in export.read_text(encoding="utf-8").lower()
    first = next(csv.DictReader(io.StringIO(export.read_text(encoding="utf-8"))))
    assert not any(first.values())  # Ana's row came first and is empty
    assert "bob@other.example" in lines[2]
    assert not (outbox / f"{alert}.eml").exists()

    again = forget_person(engine, parse_subject(str(ana)), AT, outbox=outbox)
    assert again.counts["sales_items"] == 0 and again.counts["sales_history"] == 0
    assert crm.export_csv(engine, as_of=AT, folder=outbox / "crm").exported == 0
