"""Webinar emails through the sending layer: the calendar file attached, reminders on time, each step once."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar
import sqlalchemy as sa

from funnelflow.db.schema import email_sends, leads
from funnelflow.email.transports import OutboxTransport
from funnelflow.webinars import emails
from funnelflow.webinars import registrations as regs
from funnelflow.webinars.config import load_webinar

STARTS = datetime(2026, 12, 10, 15, 0, tzinfo=UTC)  # 16:00 in Berlin
FILE = """title: Planning your retirement
starts_at: "2026-12-10T16:00:00"
timezone: Europe/Berlin
duration_minutes: 60
join_url: https://zoom.example.com/j/1
capacity: 1
host: Dana
"""


def _setup(engine, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("FUNNELFLOW_SECRET_KEY", "emails-test-key")
    path = tmp_path / "webinars" / "rp.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(FILE)
    webinar = load_webinar(path)
    regs.sync_webinars(engine, [webinar], STARTS - timedelta(days=10))
    with engine.begin() as conn:
        ids = [
            conn.execute(
                sa.insert(leads)
                .values(email=f"p{i}@example.org", email_key=f"p{i}@example.org", first_name=f"P{i}")
                .returning(leads.c.id)
            ).scalar_one()
            for i in range(2)
        ]
    for i, lead in enumerate(ids):
        regs.register(engine, "rp", lead, "form", STARTS - timedelta(days=5, seconds=-i))
    return webinar, ids


def _messages(outbox: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(outbox.glob("*.eml"))
    ]


def test_confirmation_carries_the_calendar_file_and_goes_once(engine, tmp_path, monkeypatch):
    webinar, _ = _setup(engine, tmp_path, monkeypatch)
    outbox = tmp_path / "outbox"
    transport = OutboxTransport(outbox)
    as_of = STARTS - timedelta(days=4)
    first = emails.send_confirmations(engine, transport, webinar, as_of)
    again = emails.send_confirmations(engine, transport, webinar, as_of + timedelta(minutes=15))
    assert (first["registered"]["sent"], first["waitlisted"]["sent"]) == (1, 1)
    assert (again["registered"]["sent"], again["waitlisted"]["sent"]) == (0, 0)
    confirmation = next(m for m in _messages(outbox) if "registered" in m["Subject"])
    [ics] = [part for part in confirmation.iter_attachments() if part.get_content_type() == "text/calendar"]
    [event] = icalendar.Calendar.from_ical(ics.get_content()).walk("VEVENT")
    assert event.decoded("DTSTART") == STARTS
    assert "calendar.google.com" in confirmation.get_body(("html",)).get_content()


def test_reminders_go_in_their_windows_only_to_registered_people(engine, tmp_path, monkeypatch):
    webinar, (seated, waiting) = _setup(engine, tmp_path, monkeypatch)
    transport = OutboxTransport(tmp_path / "outbox")
    assert emails.send_reminders(engine, transport, webinar, STARTS - timedelta(hours=30)) is None
    day = emails.send_reminders(engine, transport, webinar, STARTS - timedelta(hours=20))
    hour = emails.send_reminders(engine, transport, webinar, STARTS - timedelta(minutes=40))
    assert (day.sent, hour.sent) == (1, 1)
    assert emails.send_reminders(engine, transport, webinar, STARTS - timedelta(minutes=30)).sent == 0
    assert emails.send_reminders(engine, transport, webinar, STARTS + timedelta(minutes=5)) is None
    with engine.connect() as conn:
        keys = conn.execute(
            sa.select(email_sends.c.message_key, email_sends.c.lead_id).where(
                email_sends.c.message_key.like("webinar:rp:reminder%")
            )
        ).all()
    assert sorted(keys) == [("webinar:rp:reminder-1h", seated), ("webinar:rp:reminder-24h", seated)]


def test_an_invitation_wave_goes_to_the_segment_without_registered_people_once(engine, tmp_path, monkeypatch):
    from funnelflow.db.schema import consents

    webinar, (registered, _) = _setup(engine, tmp_path, monkeypatch)
    webinar.path.write_text(
        FILE
        + 'invitations:\n  audience: {all: [{lifecycle_stage: [lead]}]}\n  waves: ["2026-12-01T09:00:00"]\n'
    )
    webinar = load_webinar(webinar.path)
    with engine.begin() as conn:
        invitee = conn.execute(
            sa.insert(leads)
            .values(email="new@example.org", email_key="new@example.org")
            .returning(leads.c.id)
        ).scalar_one()
        conn.execute(
            sa.insert(consents),
            [
                {"lead_id": lead, "status": "granted", "recorded_at": STARTS - timedelta(days=30)}
                for lead in (registered, invitee)
            ],
        )
    transport = OutboxTransport(tmp_path / "outbox")
    wave_time = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # 09:00 in Berlin
    assert emails.send_invitations(engine, transport, webinar, wave_time - timedelta(minutes=1)) == {}
    first = emails.send_invitations(engine, transport, webinar, wave_time + timedelta(minutes=5))
    again = emails.send_invitations(engine, transport, webinar, wave_time + timedelta(minutes=20))
    assert first[0]["sent"] == 1 and again[0]["sent"] == 0
    with engine.connect() as conn:
        invited = (
            conn.execute(
                sa.select(email_sends.c.lead_id).where(email_sends.c.message_key == "webinar:rp:invitation:0")
            )
            .scalars()
            .all()
        )
    assert invited == [invitee]
