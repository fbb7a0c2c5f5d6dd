"""The whole journey through the real sending layer (outbox transport): sign-up, confirmation email,
GET changes nothing, POST confirms, welcome email, one-click unsubscribe, next marketing email skipped."""

from __future__ import annotations

import email
import re
from datetime import timedelta
from email.header import decode_header, make_header

import sqlalchemy as sa

from funnelflow.db.schema import consents, email_sends, utcnow
from funnelflow.email.send import Mailing, Recipient, SendOptions, send_mailing
from funnelflow.email.transports import OutboxTransport
from funnelflow.email.welcome import send_confirmations, send_welcomes
from tests.factories import add_consent, add_lead

LINK = re.compile(r"https?://[^\s\"<>]+/funnelflow/(confirm|unsubscribe)/[A-Za-z0-9_.=-]+")


def _message(folder, send_id: int) -> email.message.Message:
    return email.message_from_bytes((folder / f"{send_id}.eml").read_bytes())


def _text(msg) -> str:
    parts = [p.get_payload(decode=True).decode() for p in msg.walk() if p.get_content_type() == "text/plain"]
    return "\n".join(parts)


def _path(url: str) -> str:
    return url[url.index("/funnelflow/") :]


def test_confirm_then_unsubscribe_through_the_real_sending_layer(client, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("FUNNELFLOW_PUBLIC_URL", "https://mail.example.com/funnelflow")
    outbox = OutboxTransport(tmp_path / "outbox")
    opts = SendOptions(rate_per_s=0)
    with engine.begin() as conn:
        lead = add_lead(conn, "ada@example.com", first_name="Ada")
        add_consent(conn, lead, "pending", at=utcnow() - timedelta(minutes=2), source="web_form")
    as_of = utcnow() + timedelta(minutes=1)

    assert send_confirmations(engine, outbox, as_of, opts).as_dict()["sent"] == 1
    with engine.connect() as conn:
        confirm_send = conn.execute(
            sa.select(email_sends.c.id).where(email_sends.c.template == "confirm")
        ).scalar_one()
    confirm_link = LINK.search(_text(_message(tmp_path / "outbox", confirm_send))).group(0)
    assert "/confirm/" in confirm_link and "ada" not in confirm_link

    assert client.get(_path(confirm_link)).status_code == 200  # the scanner's GET
    with engine.connect() as conn:
        assert conn.execute(sa.select(consents.c.status).order_by(consents.c.id)).scalars().all() == [
            "pending"
        ]
    assert client.post(_path(confirm_link)).status_code == 200

    later = utcnow() + timedelta(minutes=2)
    assert send_welcomes(engine, outbox, later, opts).as_dict()["sent"] == 1
    with engine.connect() as conn:
        welcome_send = conn.execute(
            sa.select(email_sends.c.id).where(email_sends.c.template == "welcome")
        ).scalar_one()
    welcome = _message(tmp_path / "outbox", welcome_send)
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    one_click = LINK.search(str(make_header(decode_header(welcome["List-Unsubscribe"])))).group(0)
    assert "/unsubscribe/" in one_click

    resp = client.post(
        _path(one_click),
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status_code == 200

    newsletter = Mailing(
        message_key="newsletter:2026-12",
        template="welcome",
        kind="marketing",
        context={"start_url": "https://example.com"},
        campaign_id="newsletter",
    )
    report = send_mailing(
        engine,
        newsletter,
        [Recipient(email="ada@example.com", lead_id=lead, values={"first_name": "Ada"})],
        outbox,
        as_of=later + timedelta(minutes=1),
        options=opts,
    )
    assert report.as_dict()["sent"] == 0
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(email_sends.c.status, email_sends.c.skip_reason).where(
                email_sends.c.message_key == "newsletter:2026-12"
            )
        ).one()
        statuses = conn.execute(sa.select(consents.c.status).order_by(consents.c.id)).scalars().all()
    assert row.status == "skipped" and "unsubscribe" in row.skip_reason
    assert statuses == ["pending", "granted", "withdrawn"]
