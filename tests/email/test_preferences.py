"""Unsubscribe (page + RFC 8058 one-click) and double opt-in confirmation: POST acts, GET never does."""

from __future__ import annotations

import sqlalchemy as sa

from funnelflow.db.schema import consents, suppressions
from funnelflow.email.policy import Candidate, check_recipients
from funnelflow.email.tokens import make_token
from funnelflow.identity import email_hash
from tests.factories import T0, add_consent, add_lead, add_send


def _consent_log(engine, lead_id):
    with engine.connect() as conn:
        return conn.execute(
            sa.select(consents.c.status, consents.c.client_ip, consents.c.source)
            .where(consents.c.lead_id == lead_id)
            .order_by(consents.c.id)
        ).all()


def _assert_private_page(resp):
    assert resp.headers["referrer-policy"] == "no-referrer"
    assert "no-store" in resp.headers["cache-control"]
    body = resp.text
    assert (
        "http://" not in body and "https://" not in body and "<script" not in body
    )  # nothing loaded from elsewhere


def test_unsubscribe_get_shows_a_button_and_changes_nothing(client, engine):
    with engine.begin() as conn:
        lead = add_lead(conn, "jane@example.com")
        send = add_send(conn, lead, "jane@example.com")
    resp = client.get(f"/funnelflow/unsubscribe/{make_token('unsubscribe', send)}")
    assert resp.status_code == 200
    assert '<form method="post">' in resp.text and "<button" in resp.text
    _assert_private_page(resp)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(suppressions)).scalar_one() == 0


def test_one_click_unsubscribe_is_effective_at_once(client, engine):
    with engine.begin() as conn:
        lead = add_lead(conn, "jane@example.com")
        add_consent(conn, lead, "granted")
        send = add_send(conn, lead, "jane@example.com")
    candidate = Candidate(email_hash=email_hash("jane@example.com"), lead_id=lead)
    with engine.connect() as conn:
        assert check_recipients(conn, [candidate], "marketing", T0) == [None]
    # RFC 8058: the mail provider posts List-Unsubscribe=One-Click, form-encoded, to the header's URL.
    resp = client.post(
        f"/funnelflow/unsubscribe/{make_token('unsubscribe', send)}",
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status_code == 200 and "unsubscribed" in resp.text
    _assert_private_page(resp)
    with engine.connect() as conn:
        assert check_recipients(conn, [candidate], "marketing", T0) != [None]  # the very next send skips them
        reasons = conn.execute(sa.select(suppressions.c.reason, suppressions.c.email_hash)).all()
    assert [tuple(r) for r in reasons] == [("unsubscribe", email_hash("jane@example.com"))]
    assert [r.status for r in _consent_log(engine, lead)] == ["granted", "withdrawn"]
    # A second click changes nothing.
    assert client.post(f"/funnelflow/unsubscribe/{make_token('unsubscribe', send)}").status_code == 200
    assert [r.status for r in _consent_log(engine, lead)] == ["granted", "withdrawn"]


def test_forged_or_foreign_tokens_do_nothing(client, engine):
    with engine.begin() as conn:
        lead = add_lead(conn, "jane@example.com")
        send = add_send(conn, lead, "jane@example.com")
        pending = add_consent(conn, lead, "pending")
    forged = make_token("unsubscribe", send).replace(f".{send}.", f".{send + 1}.")
    assert client.post(f"/funnelflow/unsubscribe/{forged}").status_code == 404
    assert client.post(f"/funnelflow/unsubscribe/{make_token('confirm', send)}").status_code == 404
    assert client.post(f"/funnelflow/confirm/{make_token('unsubscribe', pending)}").status_code == 404
    assert client.post(f"/funnelflow/unsubscribe/{make_token('unsubscribe', 999_999)}").status_code == 404
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(suppressions)).scalar_one() == 0
    assert [r.status for r in _consent_log(engine, lead)] == ["pending"]


def test_confirm_get_changes_nothing_post_grants_with_time_and_address(client, engine):
    with engine.begin() as conn:
        lead = add_lead(conn, "new@example.com")
        pending = add_consent(conn, lead, "pending", source="web_form", wording_version="v3")
    url = f"/funnelflow/confirm/{make_token('confirm', pending)}"
    for _ in range(3):  # a mail scanner opening the link, a preview, the person
        page = client.get(url)
        assert page.status_code == 200 and "<button" in page.text
    _assert_private_page(page)
    assert [r.status for r in _consent_log(engine, lead)] == ["pending"]
    resp = client.post(url)
    assert resp.status_code == 200 and "confirmed" in resp.text
    log = _consent_log(engine, lead)
    assert [r.status for r in log] == ["pending", "granted"]
    assert log[1].client_ip == "testclient" and log[1].source == "double-opt-in"
    with engine.connect() as conn:
        granted = conn.execute(sa.select(consents).where(consents.c.status == "granted")).one()
    assert granted.wording_version == "v3" and granted.recorded_at is not None
    # Confirming twice appends nothing; the page says so.
    again = client.post(url)
    assert again.status_code == 200 and "already" in again.text.lower()
    assert len(_consent_log(engine, lead)) == 2
    assert "already" in client.get(url).text.lower()


def test_confirm_after_an_unsubscribe_does_not_resubscribe(client, engine):
    with engine.begin() as conn:
        lead = add_lead(conn, "new@example.com")
        pending = add_consent(conn, lead, "pending")
        add_consent(conn, lead, "withdrawn", at=T0.replace(hour=10))
    assert client.post(f"/funnelflow/confirm/{make_token('confirm', pending)}").status_code == 410
    assert [r.status for r in _consent_log(engine, lead)] == ["pending", "withdrawn"]


def test_client_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy(client, engine, monkeypatch):
    with engine.begin() as conn:
        lead = add_lead(conn, "new@example.com")
        first = add_consent(conn, lead, "pending")
        lead2 = add_lead(conn, "other@example.com")
        second = add_consent(conn, lead2, "pending")
    spoof = {"X-Forwarded-For": "198.51.100.7"}
    client.post(f"/funnelflow/confirm/{make_token('confirm', first)}", headers=spoof)
    assert _consent_log(engine, lead)[-1].client_ip == "testclient"  # no trusted proxy: the header is ignored
    monkeypatch.setenv("FUNNELFLOW_TRUSTED_PROXIES", "127.0.0.1")
    from fastapi.testclient import TestClient

    from funnelflow.web.app import create_standalone_app

    proxied = TestClient(create_standalone_app(engine), client=("127.0.0.1", 5000))
    proxied.post(
        f"/funnelflow/confirm/{make_token('confirm', second)}",
        headers={"X-Forwarded-For": "203.0.113.5, 127.0.0.1"},
    )
    assert _consent_log(engine, lead2)[-1].client_ip == "203.0.113.5"


def test_page_text_is_escaped_and_templates_are_strict():
    import jinja2
    import pytest

    from funnelflow.web import pages

    html = pages.message(200, "<b>x</b>", "<script>alert(1)</script>").body.decode()
    assert "<script>" not in html and "&lt;script&gt;" in html
    with pytest.raises(jinja2.UndefinedError):
        pages.page("message.html", title="no message given")


def test_a_token_with_a_non_ascii_signature_or_another_spelling_is_a_404_page(client, engine):
    with engine.begin() as conn:
        lead = add_lead(conn, "jane@example.com")
        send = add_send(conn, lead, "jane@example.com")
    kind, _, sig = make_token("unsubscribe", send).split(".")
    for token in (f"{kind}.{send}.{'é' * 24}", f"{kind}.+0{send}.{sig}", f"{kind}.0{send}.{sig}"):
        for resp in (
            client.get(f"/funnelflow/unsubscribe/{token}"),
            client.post(f"/funnelflow/unsubscribe/{token}"),
        ):
            assert resp.status_code == 404
            _assert_private_page(resp)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(suppressions)).scalar_one() == 0
