"""The sending layer against the SendGrid stand-in, on SQLite and PostgreSQL.

The real `sendgrid` client talks HTTP to a local server that validates every
body against SendGrid's published schema; the ledger is read back from the database.
"""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
import sqlalchemy as sa

from funnelflow.db.schema import email_events, email_sends
from funnelflow.email import policy
from funnelflow.email.send import Mailing, Recipient, SendingAborted, send_mailing
from funnelflow.email.tokens import read_token
from funnelflow.email.transports import SendGridTransport
from funnelflow.identity import email_hash
from tests.factories import AS_OF, add_person, suppress

WELCOME = Mailing(
    "welcome", "welcome", policy.MARKETING, {"start_url": "https://example.com/guide"}, campaign_id="welcome"
)
CONFIRM = Mailing("confirm", "confirm", policy.TRANSACTIONAL)


def people(engine, n: int, prefix: str = "p", first_name: str = "Ada") -> list[Recipient]:
    out = []
    with engine.begin() as conn:
        for i in range(n):
            email = f"{prefix}{i}@example.com"
            out.append(
                Recipient(
                    email=email,
                    lead_id=add_person(conn, email, first_name),
                    values={"first_name": first_name},
                )
            )
    return out


def ledger(engine) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(email_sends.c.recipient_hash, email_sends.c.status, email_sends.c.skip_reason)
        ).all()
    return {h: (status, reason) for h, status, reason in rows}


def test_batched_send_ids_only_unsubscribe_headers_and_escaped_names(engine, standin, sendgrid, options):
    name = '<img src=x onerror=alert(1)> O\'Neil & "Co"'
    recipients = people(engine, 3, first_name=name)
    report = send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options)
    assert report.sent == 3 and report.requests == 1 and report.batched
    [req] = standin.sent
    body = req.body
    assert req.headers["authorization"] == "Bearer SG.test-key"
    assert sorted(standin.recipients()) == sorted(r.email for r in recipients)
    html_part = next(c["value"] for c in body["content"] if c["type"] == "text/html")
    text_part = next(c["value"] for c in body["content"] if c["type"] == "text/plain")
    assert name not in html_part and "<img" not in html_part  # the name only arrives through substitutions
    with engine.connect() as conn:
        sent = {
            h: (i, mid)
            for i, h, mid in conn.execute(
                sa.select(email_sends.c.id, email_sends.c.recipient_hash, email_sends.c.provider_message_id)
            )
        }
    for p in body["personalizations"]:
        subs = p["substitutions"]
        # What SendGrid will put into the HTML part is escaped; the text part gets the name as typed.
        html_values = [v for k, v in subs.items() if k.endswith("_h-") and "O&#39;Neil" in v]
        assert html_values == [
            html.escape(name, quote=True).replace("&#x27;", "&#39;").replace("&quot;", "&#34;")
        ]
        assert "<img" not in "".join(v for k, v in subs.items() if k.endswith("_h-"))
        assert name in subs.values()
        send_id, message_id = sent[email_hash(p["to"][0]["email"])]
        assert p["custom_args"] == {"send_id": str(send_id), "campaign_id": "welcome"}
        assert message_id  # X-Message-Id of the accepted request
        unsub = p["headers"]["List-Unsubscribe"]
        assert unsub.startswith("<https://mkt.example.org/funnelflow/unsubscribe/") and "@" not in unsub
        assert read_token("unsubscribe", unsub.strip("<>").rsplit("/", 1)[1]) == send_id
        assert p["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert (
        "Acme Inc, 500 Test Road, Testville" in html_part
        and "Acme Inc, 500 Test Road, Testville" in text_part
    )
    assert set(ledger(engine).values()) == {("sent", None)}
    # A rerun (task retry) sends nothing again.
    again = send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options)
    assert again.sent == 0 and again.already_handled == 3 and len(standin.sent) == 1


def test_more_than_1000_recipients_split_into_requests_of_at_most_1000(engine, standin, sendgrid, options):
    recipients = people(engine, 1001)
    report = send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options)
    assert report.sent == 1001
    assert sorted(len(r.body["personalizations"]) for r in standin.sent) == [1, 1000]
    assert standin.stats["invalid"] == 0


def test_one_request_per_message_is_fully_rendered_and_escaped(engine, standin, sendgrid, options):
    options.batched = False
    recipients = people(engine, 4, first_name="<b>Bo</b>")
    report = send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options)
    assert report.sent == 4 and report.requests == 4 and not report.batched
    for req in standin.sent:
        [p] = req.body["personalizations"]
        assert "substitutions" not in p
        html_part = req.body["content"][1]["value"]
        assert "&lt;b&gt;Bo&lt;/b&gt;" in html_part and "<b>Bo</b>" not in html_part
        assert "<b>Bo</b>" in req.body["content"][0]["value"]
        token = p["headers"]["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]
        assert read_token("unsubscribe", token) == int(p["custom_args"]["send_id"])


def test_suppressed_unconsented_capped_and_erased_receive_nothing(engine, standin, sendgrid, options):
    week_ago = AS_OF - timedelta(days=6)
    with engine.begin() as conn:
        ok = add_person(conn, "ok@example.com")
        unsub = add_person(conn, "unsub@example.com")
        suppress(conn, "unsub@example.com", "unsubscribe")
        bounced = add_person(conn, "bounced@example.com")
        suppress(conn, "bounced@example.com", "bounce")
        none = add_person(conn, "none@example.com", consent=[])
        withdrawn = add_person(
            conn,
            "gone@example.com",
            consent=[("granted", week_ago), ("withdrawn", AS_OF - timedelta(hours=2))],
        )
        pending = add_person(conn, "pending@example.com", consent=[("pending", AS_OF - timedelta(hours=2))])
        erased = add_person(conn, "erased@example.com", erased=True)
        capped = add_person(conn, "capped@example.com")
        for i in range(3):  # three marketing emails this week: at the cap
            conn.execute(
                sa.insert(email_sends).values(
                    message_key=f"news-{i}",
                    recipient_hash=email_hash("capped@example.com"),
                    lead_id=capped,
                    template="welcome",
                    kind="marketing",
                    status="sent",
                    claimed_at=week_ago + timedelta(days=i),
                    sent_at=week_ago + timedelta(days=i),
                )
            )
    by_email = {
        "ok": ok,
        "unsub": unsub,
        "bounced": bounced,
        "none": none,
        "gone": withdrawn,
        "pending": pending,
        "erased": erased,
        "capped": capped,
    }
    recipients = [
        Recipient(f"{k}@example.com", lead_id, {"first_name": "X"}) for k, lead_id in by_email.items()
    ]
    report = send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options)
    assert standin.recipients() == ["ok@example.com"]
    assert report.sent == 1
    rows = ledger(engine)
    assert rows[email_hash("ok@example.com")] == ("sent", None)
    expected = {
        "unsub": "suppressed:unsubscribe",
        "bounced": "suppressed:bounce",
        "none": "no_consent",
        "gone": "consent_withdrawn",
        "pending": "consent_pending",
        "erased": "erased",
        "capped": "frequency_cap",
    }
    for k, reason in expected.items():
        assert rows[email_hash(f"{k}@example.com")] == ("skipped", reason), k
    assert dict(report.skipped) == {r: 1 for r in expected.values()}

    # Transactional mail ignores consent, unsubscribes and the cap, never bounced or erased addresses.
    standin.sent.clear()
    tx = Mailing("receipt", "confirm", policy.TRANSACTIONAL)
    tx_recipients = [
        Recipient(r.email, r.lead_id, {"first_name": "X", "confirm_url": "https://c.example/1"})
        for r in recipients
    ]
    send_mailing(engine, tx, tx_recipients, sendgrid, as_of=AS_OF, options=options)
    assert sorted(standin.recipients()) == sorted(
        f"{k}@example.com" for k in ("ok", "unsub", "none", "gone", "pending", "capped")
    )


def test_rate_limited_waits_until_reset_then_sends_once(engine, standin, sendgrid, options, clock):
    recipients = people(engine, 2)
    standin.cue(429, reset=clock.now + 7)
    report = send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options)
    assert report.sent == 2
    assert clock.slept == [7.0]
    assert standin.stats["requests"] == 2 and len(standin.sent) == 1
    assert sorted(standin.recipients()) == sorted(r.email for r in recipients)


def test_server_errors_retry_with_bounded_backoff(engine, standin, sendgrid, options, clock):
    recipients = people(engine, 2)
    standin.cue(500, times=2)
    assert send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options).sent == 2
    assert clock.slept == [1.0, 2.0] and len(standin.sent) == 1


def test_server_errors_past_the_retries_fail_the_task_and_release_the_claims(
    engine, standin, sendgrid, options, clock
):
    recipients = people(engine, 2)
    standin.cue(503, times=options.max_retries + 1)
    with pytest.raises(SendingAborted, match="503"):
        send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options)
    assert clock.slept == [1.0, 2.0, 4.0, 8.0]
    assert ledger(engine) == {} and standin.sent == []
    # SendGrid never took them, so the next run sends them.
    assert send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options).sent == 2


@pytest.mark.parametrize("status", [400, 413])
def test_refused_requests_mark_failed_with_the_error_and_are_not_retried(
    engine, standin, sendgrid, options, status
):
    recipients = people(engine, 2)
    standin.cue(status)
    report = send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options)
    assert report.failed == 2 and report.sent == 0 and standin.stats["requests"] == 1
    with engine.connect() as conn:
        errors = conn.execute(sa.select(email_sends.c.status, email_sends.c.error)).all()
    assert {s for s, _ in errors} == {"failed"}
    assert all(
        e.startswith(f"SendGrid {status}: ") and ("Bad Request" in e or "Too Large" in e) for _, e in errors
    )
    assert send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options).sent == 0


def test_invalid_body_is_refused_by_the_standin_with_sendgrids_field_error(
    engine, standin, sendgrid, options, monkeypatch
):
    monkeypatch.setenv("FUNNELFLOW_FROM_EMAIL", "not-an-address")
    recipients = people(engine, 1)
    report = send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options)
    assert report.failed == 1
    with engine.connect() as conn:
        error = conn.execute(sa.select(email_sends.c.error)).scalar_one()
    assert error.startswith("SendGrid 400: from.email: ") and "is not a 'email'" in error


def test_provider_error_text_never_keeps_an_address():
    from funnelflow.email.transports import _sendgrid_error_text

    text = _sendgrid_error_text(
        400, b'{"errors": [{"message": "Invalid: jane.doe@example.com", "field": "personalizations.0.to"}]}'
    )
    assert text == "SendGrid 400: personalizations.0.to: Invalid: <address>"


@pytest.mark.parametrize("cue", [401, 403])
def test_auth_failures_fail_loudly_with_nothing_marked_sent(engine, standin, sendgrid, options, cue):
    recipients = people(engine, 3)
    standin.cue(cue)
    with pytest.raises(SendingAborted, match=f"SendGrid {cue}"):
        send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options)
    assert ledger(engine) == {} and standin.sent == []


def test_a_wrong_key_is_refused_by_the_standin(engine, standin, options):
    bad = SendGridTransport("SG.wrong", standin.base_url)
    with pytest.raises(SendingAborted, match="401"):
        send_mailing(engine, WELCOME, people(engine, 1), bad, as_of=AS_OF, options=options)
    assert ledger(engine) == {}


class Crash(Exception):
    pass


@pytest.mark.parametrize(
    ("point", "requests", "status"),
    [
        (
            "claimed",
            0,
            "claimed",
        ),  # claimed, never sent: stays claimed, no event will come -> unsettled later
        ("accepted", 1, "claimed"),  # SendGrid has it, we did not record it: events settle it
        ("marked", 1, "sent"),
    ],
)
def test_crash_at_each_point_of_the_ledger_never_sends_twice(
    engine, standin, sendgrid, options, point, requests, status
):
    recipients = people(engine, 2)

    def crash(name: str) -> None:
        if name == point:
            raise Crash(name)

    options.checkpoint = crash
    with pytest.raises(Crash):
        send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options)
    assert len(standin.sent) == requests
    assert {s for s, _ in ledger(engine).values()} == {status}
    options.checkpoint = None
    rerun = send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options)
    assert rerun.sent == 0 and rerun.already_handled == 2
    assert len(standin.sent) == requests  # at most once
    assert {s for s, _ in ledger(engine).values()} == {status}


@pytest.mark.parametrize("reported", [3, 2])
def test_a_retry_takes_what_sendgrid_reported_as_sent_and_leaves_the_rest_unsettled(
    engine, standin, sendgrid, options, reported
):
    """A try dies after SendGrid accepted its request (a worker killed mid-send): the retry never sends
    again; where SendGrid's events already name a message it is sent, where nothing does it is unsettled."""
    from funnelflow.email.events import store_events
    from funnelflow.email.send import SendingIncomplete

    recipients = people(engine, 3)

    def killed(name: str) -> None:
        if name == "accepted":
            raise Crash(name)

    options.checkpoint, options.run_key = killed, "welcome_emails/send_welcomes/run1"
    with pytest.raises(Crash):
        send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options)
    assert len(standin.recipients()) == 3
    with engine.connect() as conn:
        ids = dict(conn.execute(sa.select(email_sends.c.recipient_hash, email_sends.c.id)).all())
    events = [
        {
            "email": r.email,
            "timestamp": int(AS_OF.timestamp()),
            "event": "processed",
            "sg_event_id": f"ev-processed-{i}",
            "sg_message_id": f"msg{i}.filter0001",
            "send_id": str(ids[email_hash(r.email)]),
        }
        for i, r in enumerate(recipients[:reported])  # stored by the webhook, not processed yet
    ]
    store_events(engine, events)
    options.checkpoint, options.retry = None, True
    if reported == len(recipients):
        retry = send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options)
        assert (retry.sent, retry.unsettled, retry.already_handled) == (0, 0, 3)
    else:
        with pytest.raises(SendingIncomplete) as incomplete:
            send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options)
        assert (incomplete.value.report.unsettled, incomplete.value.report.sent) == (1, 0)
    assert len(standin.recipients()) == 3  # nobody twice
    statuses = {h: s for h, (s, _) in ledger(engine).items()}
    assert statuses == {
        email_hash(r.email): "sent" if i < reported else "unsettled" for i, r in enumerate(recipients)
    }


def test_circuit_breaker_pauses_marketing_and_alerts(engine, standin, sendgrid, options):
    with engine.begin() as conn:
        for i in range(300):
            conn.execute(
                sa.insert(email_sends).values(
                    message_key="news",
                    recipient_hash=f"{i:064x}",
                    template="welcome",
                    kind="marketing",
                    status="bounced" if i % 10 == 0 else "delivered",
                    claimed_at=AS_OF - timedelta(days=1),
                )
            )
    recipients = people(engine, 2)
    tripped = []
    report = send_mailing(
        engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options, on_breaker=tripped.append
    )
    assert report.paused and "bounce rate 10.00%" in report.paused
    assert len(tripped) == 1 and tripped[0].sends == 300
    assert standin.sent == [] and all(h.startswith("0") for h in ledger(engine))  # nothing claimed
    # Transactional mail still goes.
    tx = [
        Recipient(r.email, r.lead_id, {"first_name": "A", "confirm_url": "https://c.example/1"})
        for r in recipients
    ]
    assert send_mailing(engine, CONFIRM, tx, sendgrid, as_of=AS_OF, options=options).sent == 2


def test_circuit_breaker_counts_spam_reports(engine):
    with engine.begin() as conn:
        for i in range(250):
            send_id = conn.execute(
                sa.insert(email_sends).values(
                    message_key="news",
                    recipient_hash=f"{i:064x}",
                    template="welcome",
                    kind="marketing",
                    status="delivered",
                    claimed_at=AS_OF - timedelta(days=2),
                )
            ).inserted_primary_key[0]
            if i < 2:
                conn.execute(
                    sa.insert(email_events).values(
                        sg_event_id=f"e{i}", event="spamreport", send_id=send_id, occurred_at=AS_OF
                    )
                )
        state = policy.breaker_state(conn, AS_OF)
    assert state.tripped and "spam-report rate 0.80%" in state.reason


def test_recipients_with_different_values_are_refused_before_anything_is_claimed(
    engine, standin, sendgrid, options
):
    a, b = people(engine, 2)
    odd = Recipient(b.email, b.lead_id, {"first_name": "B", "company": "X"})
    with pytest.raises(ValueError, match="same per-person values"):
        send_mailing(engine, WELCOME, [a, odd], sendgrid, as_of=AS_OF, options=options)
    assert ledger(engine) == {} and standin.sent == []
