"""forget_person end to end: the person is gone everywhere, counts stay, email never returns."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import fsspec
import pytest
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook

from funnelflow.db import schema
from funnelflow.db.schema import (
    consents,
    email_events,
    email_sends,
    erasures,
    ingest_rejects,
    lead_landing,
    leads,
    suppressions,
    touchpoints,
)
from funnelflow.email.events import process_events, store_events
from funnelflow.email.policy import Candidate, check_recipients
from funnelflow.identity import email_hash
from funnelflow.privacy.forget import NotAPersonReference, forget_person, parse_subject
from tests.factories import T0, add_consent, add_lead, add_send
from tests.fakes.sendgrid_webhook import event

JANE = "Jane.Doe@Example.com"
AT = T0 + timedelta(days=2)
COUNTED = (leads, touchpoints, consents, email_sends, email_events, ingest_rejects, lead_landing)


def _counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in COUNTED}


def _dump(engine) -> str:
    """Everything in the person-bearing tables, as text (ids and all)."""
    out = []
    with engine.connect() as conn:
        for t in (*COUNTED, suppressions, schema.lead_merges, schema.merge_candidates):
            rows = conn.execute(sa.select(t).order_by(*t.primary_key.columns)).all()
            out.append(json.dumps([list(r) for r in rows], default=str))
    return "\n".join(out)


@pytest.fixture
def world(engine, tmp_path):
    """Jane (with a merged duplicate) and Bob, everywhere a person can be."""
    with engine.begin() as conn:
        jane = add_lead(
            conn,
            JANE,
            first_name="Jane",
            last_name="Doe",
            phone="+49 30 1234567",
            job_title="CTO",
            company="Acme",
        )
        dup = add_lead(
            conn, "jdoe@example.org", first_name="J.", last_name="Doe"
        )  # her old address, merged into her
        conn.execute(sa.update(leads).where(leads.c.id == dup).values(merged_into_id=jane))
        bob = add_lead(conn, "bob@example.com", first_name="Bob")
        add_consent(conn, jane, "pending", client_ip="198.51.100.4")
        add_consent(conn, jane, "granted", at=T0 + timedelta(hours=1), client_ip="198.51.100.4")
        add_consent(conn, bob, "granted", client_ip="203.0.113.8")
        jane_send = add_send(conn, jane, JANE, key="welcome:1", error="400 <jane.doe@example.com> rejected")
        bob_send = add_send(conn, bob, "bob@example.com", key="welcome:1")
        conn.execute(
            sa.insert(touchpoints),
            [
                {
                    "lead_id": jane,
                    "occurred_at": T0,
                    "channel": "web_form",
                    "touch_type": "form_fill",
                    "source": "website",
                    "page_url": "https://example.com/demo?email=jane.doe%40example.com",
                    "detail": {"message": "call me, Jane"},
                    "source_ref": "landing:1",
                    "utm_campaign": "spring",
                },
                {
                    "lead_id": bob,
                    "occurred_at": T0,
                    "channel": "web_form",
                    "touch_type": "form_fill",
                    "source": "website",
                    "page_url": "https://example.com/demo?x=1",
                    "detail": {"message": "hi"},
                    "source_ref": "landing:2",
                    "utm_campaign": None,
                },
            ],
        )
        conn.execute(
            sa.insert(ingest_rejects),
            [
                {
                    "source": "tradeshow",
                    "source_file": "a.csv",
                    "line_number": 3,
                    "reason": "phone invalid",
                    "raw": {"Email": "JANE.DOE@example.com", "Name": "Jane Doe"},
                },
                {
                    "source": "tradeshow",
                    "source_file": "a.csv",
                    "line_number": 4,
                    "reason": "phone invalid",
                    "raw": {"Email": "bob@example.com", "Name": "Bob"},
                },
            ],
        )
        conn.execute(
            sa.insert(lead_landing),
            [
                {
                    "source": "website",
                    "received_at": T0,
                    "payload": {"email": "jane.doe@example.com", "first_name": "Jane"},
                    "content_hash": "a" * 64,
                    "client_ip": "198.51.100.4",
                },
                {
                    "source": "website",
                    "received_at": T0,
                    "payload": {"email": "bob@example.com"},
                    "content_hash": "b" * 64,
                    "client_ip": "203.0.113.8",
                },
            ],
        )
        conn.execute(
            sa.insert(schema.lead_merges).values(
                winner_id=jane,
                loser_id=dup,
                method="auto",
                similarity=0.97,
                undo={"winner_before": {"first_name": "Jane", "email": "jane.doe@example.com"}},
                merged_at=T0,
            )
        )
    store_events(
        engine,
        [
            event("open", 1, JANE, send_id=jane_send, at=int(T0.timestamp()) + 3600, ip="198.51.100.4"),
            event(
                "click",
                2,
                JANE,
                send_id=jane_send,
                at=int(T0.timestamp()) + 3700,
                url="https://example.com/p?who=jane.doe@example.com",
            ),
            event("open", 3, "bob@example.com", send_id=bob_send, at=int(T0.timestamp()) + 3600),
        ],
    )
    process_events(engine, T0 + timedelta(days=1))

    inbox = tmp_path / "inbox"
    (inbox / "archive").mkdir(parents=True)
    (inbox / "failed").mkdir()
    (inbox / "archive" / "abc-fair.csv").write_text(
        'email,first_name,last_name\nbob@example.com,Bob,B\n"Jane.Doe+fair@example.com",Jane,Doe\n'
    )
    (inbox / "archive" / "abc-fair.csv.receipt.json").write_text(
        json.dumps({"file": "fair.csv", "note": "first bad row: jane.doe@example.com"})
    )
    book = Workbook()
    book.active.append(["Email", "Name"])
    book.active.append(["jane.doe@example.com", "Jane Doe"])
    book.active.append(["bob@example.com", "Bob"])
    book.save(inbox / "failed" / "def-list.xlsx")
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / f"{jane_send}.eml").write_text("To: jane.doe@example.com\nSubject: Welcome\n\nHi Jane")
    (outbox / "confirm-xyz.eml").write_text("To: Jane <Jane.Doe@example.com>\nSubject: Confirm\n\nHi")
    (outbox / f"{bob_send}.eml").write_text("To: bob@example.com\nSubject: Welcome\n\nHi Bob")
    return {
        "jane": jane,
        "dup": dup,
        "bob": bob,
        "inbox": inbox,
        "outbox": outbox,
        "jane_send": jane_send,
        "bob_send": bob_send,
    }


def _forget(engine, world, person, run_id="manual__1"):
    return forget_person(
        engine,
        parse_subject(person),
        AT,
        inbox=(fsspec.filesystem("file"), str(world["inbox"])),
        outbox=world["outbox"],
        run_id=run_id,
    )


def test_forget_by_hash_erases_everywhere_keeps_counts_and_bob(engine, world):
    before_counts = _counts(engine)
    result = _forget(engine, world, email_hash(JANE))
    assert result.lead_ids == sorted([world["jane"], world["dup"]])
    assert _counts(engine) == before_counts  # aggregates stay right: rows anonymized, not deleted

    text = _dump(engine).lower()
    for trace in ("jane", "doe", "198.51.100.4", "+49"):
        assert trace not in text, trace
    # The only place each hash survives is its erased suppression (that is what keeps her out of email).
    assert text.count(email_hash(JANE)) == 1 and text.count(email_hash("jdoe@example.org")) == 1
    with engine.connect() as conn:
        (sup,) = conn.execute(
            sa.select(suppressions).where(suppressions.c.email_hash == email_hash(JANE))
        ).all()
        jane = conn.execute(sa.select(leads).where(leads.c.id == world["jane"])).one()
        bob = conn.execute(sa.select(leads).where(leads.c.id == world["bob"])).one()
        bob_touch = conn.execute(
            sa.select(touchpoints).where(
                touchpoints.c.lead_id == world["bob"], touchpoints.c.channel == "web_form"
            )
        ).one()
        jane_touch = conn.execute(
            sa.select(touchpoints).where(
                touchpoints.c.lead_id == world["jane"], touchpoints.c.channel == "web_form"
            )
        ).one()
        record = conn.execute(sa.select(erasures)).one()
    assert sup.reason == "erased"
    assert jane.erased_at == AT and jane.email is None and jane.job_title is None and jane.phone is None
    assert jane.company == "Acme" and jane.lifecycle_stage == "lead"
    assert bob.email == "bob@example.com" and bob.first_name == "Bob"  # nobody else is touched
    assert bob_touch.page_url.endswith("?x=1") and bob_touch.detail == {"message": "hi"}
    assert jane_touch.page_url == "https://example.com/demo" and jane_touch.utm_campaign == "spring"
    assert record.requested == f"hash:{email_hash(JANE)}" and record.summary["leads"] == 2

    csv_text = (world["inbox"] / "archive" / "abc-fair.csv").read_text()
    assert (
        csv_text == "email,first_name,last_name\nbob@example.com,Bob,B\n,,\n"
    )  # line count and columns kept
    assert "jane" not in (world["inbox"] / "archive" / "abc-fair.csv.receipt.json").read_text().lower()
    rows = list(
        load_workbook(io.BytesIO((world["inbox"] / "failed" / "def-list.xlsx").read_bytes())).active.values
    )
    assert rows == [("Email", "Name"), (None, None), ("bob@example.com", "Bob")]
    assert sorted(p.name for p in world["outbox"].iterdir()) == [f"{world['bob_send']}.eml"]
    assert result.counts["inbox_files"] == 3 and result.counts["outbox_files"] == 2


def test_forget_is_idempotent(engine, world):
    _forget(engine, world, email_hash(JANE))
    first = _dump(engine)
    files = {p: p.read_bytes() for p in world["inbox"].rglob("*") if p.is_file()}
    again = _forget(engine, world, email_hash(JANE))
    assert again.counts["inbox_files"] == 0 and again.counts["suppressions"] == 0
    # Same database apart from the random stand-in hash on the sends (one per erasure, never the address's).
    strip = lambda s: "\n".join(line for i, line in enumerate(s.splitlines()) if i != 3)  # noqa: E731 (email_sends)
    assert strip(_dump(engine)) == strip(first)
    assert {p: p.read_bytes() for p in files} == files


def test_forget_by_lead_id_and_a_later_import_never_gets_email(engine, world):
    _forget(engine, world, str(world["jane"]))
    with engine.begin() as conn:
        assert conn.execute(sa.select(leads.c.email).where(leads.c.id == world["dup"])).scalar() is None
        # Months later a trade-show list brings her address back as a new lead, with consent.
        again = add_lead(conn, "jane.doe+fair2026@example.com")
        add_consent(conn, again, "granted", at=AT + timedelta(days=90))
        candidate = Candidate(email_hash=email_hash("jane.doe+fair2026@example.com"), lead_id=again)
        assert check_recipients(conn, [candidate], "marketing", AT + timedelta(days=91)) == [
            "suppressed:erased"
        ]
        assert check_recipients(conn, [candidate], "transactional", AT + timedelta(days=91)) == [
            "suppressed:erased"
        ]


def test_late_events_for_a_forgotten_person_are_scrubbed(engine, world):
    _forget(engine, world, email_hash(JANE))
    store_events(
        engine,
        [
            event(
                "click",
                9,
                JANE,
                send_id=world["jane_send"],
                at=int(AT.timestamp()) + 60,
                url="https://example.com/x",
            )
        ],
    )
    result = process_events(engine, AT + timedelta(hours=1))
    assert result.scrubbed == 1 and result.touchpoints == 0
    assert email_hash(JANE) not in _dump(engine).replace(f'"{email_hash(JANE)}", "erased"', "")


def test_an_address_is_refused_without_being_repeated():
    with pytest.raises(NotAPersonReference) as err:
        parse_subject("jane.doe@example.com")
    assert "jane" not in str(err.value)
    with pytest.raises(NotAPersonReference):
        parse_subject("not-a-hash")
    assert parse_subject("42").lead_id == 42
    assert parse_subject("lead:42").lead_id == 42
    assert parse_subject("A" * 64).email_hash == "a" * 64


def test_unknown_hash_still_leaves_an_erased_suppression(engine, tmp_path):
    h = email_hash("never-seen@example.com")
    result = forget_person(engine, parse_subject(h), AT)
    assert result.lead_ids == [] and result.counts["suppressions"] == 1
    with engine.connect() as conn:
        assert (
            conn.execute(sa.select(suppressions.c.reason).where(suppressions.c.email_hash == h)).scalar()
            == "erased"
        )


def test_file_scrub_keeps_encoding_bom_and_every_other_byte():
    from funnelflow.privacy.forget import Person, scrub_text_file

    person = Person(hashes={email_hash(JANE)})
    bom = "\ufeffEmail,Name\nbob@example.com,Bøb\njane.doe@example.com,Jane\n".encode("utf-8-sig")
    assert scrub_text_file(bom, person) == "\ufeffEmail,Name\nbob@example.com,Bøb\n,\n".encode("utf-8-sig")
    cp1252 = (
        'E-Mail;Name;Land\r\nbob@example.com;Søren;Dänemark\r\n"Jane.Doe@example.com";Jane;K\u00f6ln\r\n'
    ).encode("cp1252")
    out = scrub_text_file(cp1252, person)
    assert out == "E-Mail;Name;Land\r\nbob@example.com;Søren;Dänemark\r\n;;\r\n".encode("cp1252")
    assert scrub_text_file(b"email\nbob@example.com\n", person) is None  # untouched files are not rewritten


def test_forget_by_lead_id_twice_changes_nothing_the_second_time(engine, world):
    _forget(engine, world, str(world["jane"]))
    first = _dump(engine)
    again = _forget(engine, world, str(world["jane"]))
    assert again.counts["leads"] == 0 and again.counts["suppressions"] == 0
    strip = lambda s: "\n".join(line for i, line in enumerate(s.splitlines()) if i != 3)  # noqa: E731 (email_sends)
    assert strip(_dump(engine)) == strip(first)
