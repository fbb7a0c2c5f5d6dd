"""Stored events become touchpoints, suppressions, consent withdrawals and ledger states, once."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from funnelflow.db.schema import consents, email_events, email_sends, suppressions, touchpoints
from funnelflow.email.events import mark_unsettled, process_events, store_events
from funnelflow.identity import email_hash
from tests.factories import T0, add_consent, add_lead, add_send
from tests.fakes.sendgrid_webhook import event

AS_OF = T0 + timedelta(days=1)
TS = int(T0.timestamp())


def _setup(engine):
    with engine.begin() as conn:
        lead = add_lead(conn, "jane@example.com")
        add_consent(conn, lead, "granted")
        claimed = add_send(conn, lead, "jane@example.com", key="welcome:1", status="claimed")
        sent = add_send(conn, lead, "jane@example.com", key="news:1", status="sent")
    return lead, claimed, sent


def test_opens_and_clicks_become_touchpoints_machine_ones_unscored(engine):
    lead, claimed, sent = _setup(engine)
    store_events(
        engine,
        [
            event("processed", 1, "jane@example.com", send_id=claimed, at=TS),
            event("delivered", 2, "jane@example.com", send_id=sent, at=TS + 60),
            event("open", 3, "jane@example.com", send_id=sent, at=TS + 600),
            event("open", 4, "jane@example.com", send_id=sent, at=TS + 61, sg_machine_open=True),
            event(
                "click", 5, "jane@example.com", send_id=sent, at=TS + 62, url="https://example.com/a"
            ),  # 2 s after delivery
            event(
                "click", 6, "jane@example.com", send_id=sent, at=TS + 900, url="https://example.com/pricing"
            ),
        ],
    )
    result = process_events(engine, AS_OF)
    assert result.events == 6 and result.touchpoints == 4 and result.unscored == 2
    with engine.connect() as conn:
        touches = conn.execute(sa.select(touchpoints).order_by(touchpoints.c.occurred_at)).all()
        states = dict(conn.execute(sa.select(email_sends.c.id, email_sends.c.status)).all())
        unprocessed = conn.execute(
            sa.select(sa.func.count()).where(email_events.c.processed_at.is_(None))
        ).scalar_one()
    assert [(t.touch_type, t.scored) for t in touches] == [
        ("email_open", False),
        ("email_click", False),
        ("email_open", True),
        ("email_click", True),
    ]
    assert {t.lead_id for t in touches} == {lead}
    assert touches[3].detail["url"] == "https://example.com/pricing"
    assert touches[0].detail["machine"] == "machine_open"
    assert touches[1].detail["machine"] == "click_before_human_delay"
    assert states == {claimed: "sent", sent: "delivered"}
    assert unprocessed == 0
    # A rerun (or a repeated webhook post) adds nothing.
    store_events(engine, [event("open", 3, "jane@example.com", send_id=sent, at=TS + 600)])
    assert process_events(engine, AS_OF).touchpoints == 0
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(touchpoints)).scalar_one() == 4


def test_scanner_clicking_every_link_at_once_is_not_scored(engine):
    lead, _, sent = _setup(engine)
    store_events(
        engine,
        [
            event("click", i, "jane@example.com", send_id=sent, at=TS + 3600, url=f"https://example.com/{i}")
            for i in range(3)
        ],
    )
    result = process_events(engine, AS_OF)
    assert result.touchpoints == 3 and result.unscored == 3


def test_bounces_spam_reports_unsubscribes_and_invalid_drops_suppress(engine):
    lead, claimed, sent = _setup(engine)
    store_events(
        engine,
        [
            event(
                "bounce",
                1,
                "hard@example.com",
                type="bounce",
                status="5.1.1",
                reason="550 5.1.1 <hard@example.com> unknown",
                at=TS,
            ),
            event(
                "bounce", 2, "blocked@example.com", type="blocked", status="4.0.0", reason="try later", at=TS
            ),
            event("dropped", 3, "bad@example.com", reason="Invalid", at=TS),
            event("dropped", 4, "hdr@example.com", reason="Invalid SMTPAPI header", at=TS),
            event("spamreport", 5, "spam@example.com", at=TS),
            event("unsubscribe", 6, "jane@example.com", send_id=sent, at=TS + 5),
            event("group_unsubscribe", 7, "group@example.com", asm_group_id=42, at=TS),
            event(
                "bounce",
                8,
                "jane@example.com",
                send_id=claimed,
                type="bounce",
                status="5.1.1",
                reason="gone",
                at=TS + 10,
            ),
        ],
    )
    result = process_events(engine, AS_OF)
    with engine.connect() as conn:
        rows = {(r.email_hash, r.reason): r for r in conn.execute(sa.select(suppressions))}
        consent_rows = conn.execute(
            sa.select(consents.c.status, consents.c.source)
            .where(consents.c.lead_id == lead)
            .order_by(consents.c.id)
        ).all()
        states = dict(conn.execute(sa.select(email_sends.c.id, email_sends.c.status)).all())
    expected = {
        (email_hash("hard@example.com"), "bounce"),
        (email_hash("bad@example.com"), "invalid"),
        (email_hash("spam@example.com"), "spam_report"),
        (email_hash("jane@example.com"), "unsubscribe"),
        (email_hash("jane@example.com"), "bounce"),
        (email_hash("group@example.com"), "group_unsubscribe"),
    }
    assert set(rows) == expected
    assert result.suppressions == len(expected)
    assert "@" not in rows[(email_hash("hard@example.com"), "bounce")].detail
    assert rows[(email_hash("group@example.com"), "group_unsubscribe")].detail.endswith("asm_group_id=42")
    assert [tuple(r) for r in consent_rows] == [("granted", None), ("withdrawn", "sendgrid:unsubscribe")]
    assert states[claimed] == "bounced"
    # group_resubscribe lifts the group suppression it came from.
    store_events(engine, [event("group_resubscribe", 9, "group@example.com", asm_group_id=42, at=TS + 99)])
    process_events(engine, AS_OF)
    with engine.connect() as conn:
        reasons = conn.execute(
            sa.select(suppressions.c.reason).where(
                suppressions.c.email_hash == email_hash("group@example.com")
            )
        ).all()
    assert reasons == []


def test_claimed_rows_no_event_settles_become_unsettled_after_the_window(engine):
    with engine.begin() as conn:
        lead = add_lead(conn, "jane@example.com")
        old = add_send(
            conn, lead, "jane@example.com", key="a", status="claimed", claimed_at=AS_OF - timedelta(hours=49)
        )
        recent = add_send(
            conn, lead, "jane@example.com", key="b", status="claimed", claimed_at=AS_OF - timedelta(hours=47)
        )
        done = add_send(
            conn,
            lead,
            "jane@example.com",
            key="c",
            status="delivered",
            claimed_at=AS_OF - timedelta(hours=90),
        )
    assert mark_unsettled(engine, AS_OF, after_hours=48) == 1
    assert mark_unsettled(engine, AS_OF, after_hours=48) == 0  # rerun: same database
    with engine.connect() as conn:
        states = dict(conn.execute(sa.select(email_sends.c.id, email_sends.c.status)).all())
    assert states == {old: "unsettled", recent: "claimed", done: "delivered"}
    # A late delivered event still settles an unsettled row.
    store_events(engine, [event("delivered", 1, "jane@example.com", send_id=old, at=TS)])
    assert process_events(engine, AS_OF).settled == 1


def test_events_of_an_erased_person_are_scrubbed_and_make_no_touchpoints(engine):
    lead, _, sent = _setup(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(suppressions).values(
                email_hash=email_hash("jane@example.com"), reason="erased", created_at=T0
            )
        )
    store_events(engine, [event("open", 1, "jane@example.com", send_id=sent, at=TS, ip="203.0.113.9")])
    result = process_events(engine, AS_OF)
    assert result.scrubbed == 1 and result.touchpoints == 0
    with engine.connect() as conn:
        row = conn.execute(sa.select(email_events)).one()
    assert row.email_hash is None and row.payload == {"erased": True} and row.event == "open"


def test_processing_works_in_chunks(engine):
    lead, _, sent = _setup(engine)
    store_events(
        engine, [event("open", i, "jane@example.com", send_id=sent, at=TS + 3600 + i) for i in range(7)]
    )
    result = process_events(engine, AS_OF, chunk=3)
    assert result.events == 7 and result.touchpoints == 7


def test_the_same_suppression_twice_in_one_batch_is_one_row(engine):
    store_events(
        engine,
        [
            event("bounce", i, "hard@example.com", type="bounce", status="5.1.1", reason="550", at=TS + i)
            for i in range(3)
        ],
    )
    assert process_events(engine, AS_OF).suppressions == 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(suppressions.c.reason)).scalars().all() == ["bounce"]
