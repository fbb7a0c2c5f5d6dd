"""Outbox and ops alerts (no database), and the stand-in's own strictness."""

from __future__ import annotations

import email
import email.policy

import pytest

from funnelflow.email import render
from funnelflow.email.transports import OutboxTransport, Rejected, transport_from_settings
from tests.fakes.sendgrid_standin import service_rules


def _body(n: int = 1, **extra) -> dict:
    tagged = render.render_with_tags("welcome", {"start_url": "https://e.example/g"}, ("first_name",))
    personalizations = [
        {
            "to": [{"email": f"p{i}@example.com"}],
            "custom_args": {"send_id": str(i + 1), "campaign_id": ""},
            "substitutions": render.substitutions_for({"first_name": "<b>Al</b>"}),
            "headers": {
                "List-Unsubscribe": f"<https://u.example/{i}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        }
        for i in range(n)
    ]
    body = {
        "personalizations": personalizations,
        "from": {"email": "hello@example.com", "name": "funnelflow"},
        "subject": tagged.subject,
        "content": [
            {"type": "text/plain", "value": tagged.text},
            {"type": "text/html", "value": tagged.html},
        ],
    }
    body.update(extra)
    return body


def test_outbox_writes_one_eml_per_send_with_substitutions_applied(tmp_path):
    OutboxTransport(tmp_path).deliver(_body(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1.eml", "2.eml"]
    msg = email.message_from_bytes((tmp_path / "2.eml").read_bytes(), policy=email.policy.default)
    assert msg["To"] == "p1@example.com" and msg["Subject"] == "Welcome to funnelflow, <b>Al</b>"
    assert msg["List-Unsubscribe"] == "<https://u.example/1>" and msg["X-Funnelflow-Send-Id"] == "2"
    html_part = msg.get_body(("html",)).get_content()
    assert "&lt;b&gt;Al&lt;/b&gt;" in html_part and "<b>Al</b>" not in html_part
    assert "<b>Al</b>" in msg.get_body(("plain",)).get_content()


def test_unknown_transport_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("FUNNELFLOW_EMAIL_TRANSPORT", "pigeon")
    with pytest.raises(ValueError, match="FUNNELFLOW_EMAIL_TRANSPORT must be one of sendgrid, smtp, outbox"):
        transport_from_settings()


def test_ops_alert_goes_out_through_the_sending_layer_and_never_raises(monkeypatch, funnelflow_home):
    from funnelflow.alerts import failure_alert
    from funnelflow_airflow import common

    monkeypatch.setenv("FUNNELFLOW_EMAIL_TRANSPORT", "outbox")
    monkeypatch.setenv("FUNNELFLOW_OPS_EMAIL", "oncall@example.com")
    alert = failure_alert(
        dag_id="welcome_emails",
        task_id="send_welcomes",
        run_id="r1",
        try_number=1,
        log_url=None,
        error_type="SendingAborted",
    )
    common.send_ops_alert(alert, None)
    [eml] = (funnelflow_home / "outbox").iterdir()
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert msg["To"] == "oncall@example.com" and msg["Subject"] == alert.subject
    assert "SendingAborted" in msg.get_body(("plain",)).get_content()
    monkeypatch.setenv("FUNNELFLOW_EMAIL_TRANSPORT", "pigeon")
    common.send_ops_alert(alert, None)  # logged, not raised


def test_standin_is_as_strict_as_the_service(mail_validator):
    def errors(body):
        return [e.message for e in mail_validator.iter_errors(body)] + [
            e["message"] for e in service_rules(body)
        ]

    assert errors(_body(3)) == []
    assert any("too long" in e or "1000" in e for e in errors(_body(1001)))
    bad_args = _body(1)
    bad_args["personalizations"][0]["custom_args"] = {"send_id": 7}
    assert any("is not of type 'string'" in e for e in errors(bad_args))
    no_from = _body(1)
    del no_from["from"]
    assert any("'from' is a required property" in e for e in errors(no_from))
    html_first = _body(
        1, content=[{"type": "text/html", "value": "<p>x</p>"}, {"type": "text/plain", "value": "x"}]
    )
    assert any("text/plain content must be first" in e for e in errors(html_first))
    reserved = _body(1)
    reserved["personalizations"][0]["headers"]["Subject"] = "x"
    assert any("reserved" in e for e in errors(reserved))
    bad_email = _body(1)
    bad_email["personalizations"][0]["to"][0]["email"] = "nobody"
    assert any("is not a 'email'" in e for e in errors(bad_email))


def test_smtp_refusal_is_that_messages_alone(monkeypatch):
    import smtplib

    from funnelflow.email.transports import SmtpTransport

    class Refusing:
        def __init__(self, *a, **k):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def send_message(self, msg):
            raise smtplib.SMTPRecipientsRefused({"p0@example.com": (550, b"no such user")})

    monkeypatch.setattr(smtplib, "SMTP", Refusing)
    accepted = SmtpTransport("localhost", 1025).deliver(_body(2))
    assert sorted(accepted.refused) == ["1", "2"]  # by send id: each refusal is its recipient's
    assert all(r.startswith("SMTP refused") and "p0@example.com" not in r for r in accepted.refused.values())
    alert = _body(1)
    del alert["personalizations"][0]["custom_args"]  # no ledger row (an operations alert): the request fails
    with pytest.raises(Rejected) as exc:
        SmtpTransport("localhost", 1025).deliver(alert)
    assert "p0@example.com" not in str(exc.value)


def test_long_list_unsubscribe_header_stays_plain_ascii_in_the_file(tmp_path):
    # Folding at 78 characters used to RFC 2047-encode a long one-click URL, which clients cannot use.
    body = _body(1)
    url = "<https://example.com/funnelflow/unsubscribe/0.1234567.abcdefghijklmnopqrstuvwxyz0123456789_ABCDEFGHIJKLMNOPQRSTUVWXYZ>"
    body["headers"] = {**(body.get("headers") or {}), "List-Unsubscribe": url}
    for p in body["personalizations"]:
        (p.get("headers") or {}).pop("List-Unsubscribe", None)
    OutboxTransport(tmp_path).deliver(body)
    headers = (tmp_path / "1.eml").read_bytes().replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("ascii")
    assert f"List-Unsubscribe: {url}\n" in headers
    assert "=?utf-8?" not in headers.lower()
