"""Issue 10: what a lead types never costs anyone their email.

A line break in a name must not break a header in any transport; one bad
recipient fails alone; a run that leaves claims neither sent nor failed fails
loudly, and a retry never hides (or re-sends) what its earlier try claimed.
"""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta

import pytest
import sqlalchemy as sa

from funnelflow.db.schema import email_sends
from funnelflow.email import policy, render, welcome
from funnelflow.email.send import Mailing, Recipient, SendingAborted, SendingIncomplete, send_mailing
from funnelflow.email.transports import Accepted, OutboxTransport, SmtpTransport, Unavailable
from funnelflow.identity import email_hash
from tests.factories import AS_OF, add_person
from tests.fakes.smtp_sink import SmtpSink

BREAKS = {"crlf": "\r\n", "lf": "\n", "cr": "\r", "ls": "\u2028", "ps": "\u2029", "nel": "\x85", "vt": "\x0b"}
INJECTED = "Bcc: victim@evil.example"
PITCH = "Claim your prize at https://evil.example/win " + "x" * 70  # leads.first_name holds 120
WELCOME = Mailing(
    "welcome", "welcome", policy.MARKETING, {"start_url": "https://example.com/guide"}, campaign_id="welcome"
)


def statuses(engine) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(email_sends.c.recipient_hash, email_sends.c.status, email_sends.c.error)
        )
        return {h: (status, error) for h, status, error in rows}


@pytest.fixture
def smtp_sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def _people_with_broken_names(engine) -> dict[str, str]:
    """Granted (welcome) and pending (confirmation) people whose first names carry each kind of break."""
    names = {}
    with engine.begin() as conn:
        for kind in ("granted", "pending"):
            for label, brk in BREAKS.items():
                addr = f"{kind}-{label}@example.com"
                names[addr] = f"Eve{brk}{INJECTED}"
                add_person(conn, addr, names[addr], consent=[(kind, AS_OF - timedelta(minutes=3))])
            addr = f"{kind}-pitch@example.com"
            names[addr] = PITCH
            add_person(conn, addr, PITCH, consent=[(kind, AS_OF - timedelta(minutes=3))])
    return names


def _messages(
    transport_name, tmp_path, smtp_sink, standin
) -> list[tuple[list[str], email.message.EmailMessage]]:
    """(envelope recipients, parsed message) for every message the transport delivered."""
    if transport_name == "outbox":
        return [
            (None, email.message_from_bytes(f.read_bytes(), policy=email.policy.default))
            for f in sorted(tmp_path.glob("*.eml"))
        ]
    if transport_name == "smtp":
        return [
            (r.rcpt_to, email.message_from_bytes(r.data, policy=email.policy.default))
            for r in smtp_sink.received
        ]
    out = []
    for req in standin.sent:  # what SendGrid would build: substitutions applied to subject and parts
        for p in req.body["personalizations"]:
            subs = p.get("substitutions") or {}
            msg = email.message.EmailMessage()
            msg["Subject"] = render.apply_substitutions(p.get("subject") or req.body["subject"], subs)
            for name, value in (p.get("headers") or {}).items():
                msg[name] = value
            msg.set_content(render.apply_substitutions(req.body["content"][0]["value"], subs))
            out.append(([t["email"] for t in p["to"]], msg))
    return out


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "one-per-message"])
@pytest.mark.parametrize("transport_name", ["outbox", "smtp", "sendgrid"])
def test_a_line_break_in_a_first_name_never_reaches_a_header(
    engine, standin, sendgrid, options, smtp_sink, tmp_path, transport_name, batched
):
    # Before: outbox and SMTP raised "Header values may not contain linefeed" and the whole chunk
    # stayed claimed.
    names = _people_with_broken_names(engine)
    transport = {
        "outbox": OutboxTransport(tmp_path),
        "smtp": SmtpTransport("127.0.0.1", smtp_sink.port, timeout_s=10),
        "sendgrid": sendgrid,
    }[transport_name]
    options.batched = batched
    conf = welcome.send_confirmations(engine, transport, AS_OF, options)
    wel = welcome.send_welcomes(engine, transport, AS_OF, options)
    assert (conf.sent, wel.sent, conf.failed + wel.failed) == (len(BREAKS) + 1, len(BREAKS) + 1, 0)
    assert {s for s, _ in statuses(engine).values()} == {"sent"}
    messages = _messages(transport_name, tmp_path, smtp_sink, standin)
    assert len(messages) == len(names)
    for rcpts, msg in messages:
        subject = str(msg["Subject"])
        assert not render.has_unsafe_header_chars(subject), repr(subject)
        assert msg.get_all("Bcc") is None
        if rcpts is not None:
            assert (
                len(rcpts) == 1 and "victim@evil.example" not in rcpts
            )  # nothing injected into the envelope
        text = msg.get_body(("plain",)).get_content() if msg.is_multipart() else msg.get_content()
        # Attacker text is not repeated at length (the cap is 40 characters).
        assert PITCH[:45] not in text and PITCH[:45] not in subject
        if subject.startswith("Welcome"):
            assert subject.endswith(("Eve Bcc: victim@evil.example", "…"))
    assert smtp_sink.errors == []


def test_one_bad_recipient_fails_alone_and_the_batch_goes(engine, standin, sendgrid, options):
    # Before: the oversized one made SendGrid refuse the whole request, and all six were failed.
    with engine.begin() as conn:
        good = [f"g{i}@example.com" for i in range(5)]
        ids = {addr: add_person(conn, addr) for addr in [*good, "huge@example.com", "broken@example.com"]}
    recipients = [Recipient(a, ids[a], {"first_name": "Ada"}) for a in good]
    recipients.insert(2, Recipient("huge@example.com", ids["huge@example.com"], {"first_name": "y" * 12_000}))
    recipients.insert(
        4, Recipient("broken@example.com\nX-Injected: yes", ids["broken@example.com"], {"first_name": "Bo"})
    )
    report = send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options)
    assert (report.sent, report.failed, report.requests) == (5, 2, 1)
    assert sorted(standin.recipients()) == sorted(good) and standin.stats["invalid"] == 0
    rows = statuses(engine)
    assert rows[email_hash("huge@example.com")] == (
        "failed",
        "substitutions over SendGrid's 10,000 bytes per recipient",
    )
    assert rows[email_hash("broken@example.com\nX-Injected: yes")] == (
        "failed",
        "the address contains a line break or control character",
    )
    assert [rows[email_hash(a)][0] for a in good] == ["sent"] * 5
    # Failed is settled: a rerun sends nobody again.
    assert (
        send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options).already_handled == 7
    )


@pytest.mark.parametrize("transport_name", ["outbox", "smtp"])
def test_a_message_the_transport_cannot_build_is_refused_alone(tmp_path, smtp_sink, transport_name):
    tagged = render.render_with_tags("confirm", {"confirm_url": "https://c.example/1"}, ("first_name",))
    body = {
        "personalizations": [
            {
                "to": [{"email": addr}],
                "custom_args": {"send_id": str(i), "campaign_id": ""},
                "substitutions": render.substitutions_for({"first_name": "Al"}),
            }
            for i, addr in enumerate(
                ["a@example.com", "b@example.com\nBcc: c@evil.example", "d@example.com"], 1
            )
        ],
        "from": {"email": "hello@example.com", "name": "funnel\nflow"},
        "subject": tagged.subject,
        "content": [
            {"type": "text/plain", "value": tagged.text},
            {"type": "text/html", "value": tagged.html},
        ],
    }
    if transport_name == "outbox":
        accepted = OutboxTransport(tmp_path).deliver(body)
        delivered = sorted(f.name for f in tmp_path.glob("*.eml"))
        assert delivered == ["1.eml", "3.eml"]
        msg = email.message_from_bytes((tmp_path / "1.eml").read_bytes(), policy=email.policy.default)
    else:
        accepted = SmtpTransport("127.0.0.1", smtp_sink.port, timeout_s=10).deliver(body)
        assert [r.rcpt_to for r in smtp_sink.received] == [["a@example.com"], ["d@example.com"]]
        msg = email.message_from_bytes(smtp_sink.received[0].data, policy=email.policy.default)
    assert list(accepted.refused) == ["2"] and "evil.example" not in accepted.refused["2"]
    assert msg["From"] == "funnel flow <hello@example.com>"


class Crash(Exception):
    pass


@pytest.mark.parametrize(("point", "reached_sendgrid"), [("claimed", 0), ("accepted", 1)])
def test_a_retry_after_a_crash_mid_chunk_settles_its_own_claims_and_fails_loudly(
    engine, standin, sendgrid, options, point, reached_sendgrid
):
    with engine.begin() as conn:
        first = [
            Recipient(f"p{i}@example.com", add_person(conn, f"p{i}@example.com"), {"first_name": "A"})
            for i in range(3)
        ]
        late = Recipient("late@example.com", add_person(conn, "late@example.com"), {"first_name": "L"})
    options.run_key = "welcome_emails/send_welcomes/scheduled__2026-11-23T12:00:00+00:00"

    def crash(name: str) -> None:
        if name == point:
            raise Crash(name)

    options.checkpoint = crash
    with pytest.raises(Crash):
        send_mailing(engine, WELCOME, first, sendgrid, as_of=AS_OF, options=options)
    assert len(standin.sent) == reached_sendgrid
    before = len(standin.recipients())
    options.checkpoint, options.retry = None, True
    # Before: the retry called these three "already_handled" and ended green.
    with pytest.raises(SendingIncomplete, match="3 message") as exc:
        send_mailing(engine, WELCOME, [*first, late], sendgrid, as_of=AS_OF, options=options)
    report = exc.value.report
    assert (report.unsettled, report.sent, report.already_handled) == (3, 1, 0)
    assert standin.recipients()[before:] == ["late@example.com"]  # the rest went; nobody twice
    rows = statuses(engine)
    assert [rows[email_hash(r.email)][0] for r in first] == ["unsettled"] * 3
    assert "earlier try" in rows[email_hash(first[0].email)][1]
    # Settled now: another try, or another run, is green and sends nothing again.
    again = send_mailing(engine, WELCOME, [*first, late], sendgrid, as_of=AS_OF, options=options)
    assert (again.sent, again.unsettled, again.already_handled) == (0, 0, 4)
    assert len(standin.recipients()) == before + 1


def test_another_runs_open_claims_are_not_this_runs_to_settle(engine, standin, sendgrid, options):
    recipients = []
    with engine.begin() as conn:
        recipients = [
            Recipient(f"p{i}@example.com", add_person(conn, f"p{i}@example.com"), {"first_name": "A"})
            for i in range(2)
        ]
    options.run_key = "dag/task/run-1"
    options.checkpoint = lambda name: (_ for _ in ()).throw(Crash(name)) if name == "claimed" else None
    with pytest.raises(Crash):
        send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options)
    options.checkpoint, options.run_key, options.retry = None, "dag/task/run-2", True
    report = send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options)
    assert (report.sent, report.unsettled, report.already_handled) == (0, 0, 2)
    assert {s for s, _ in statuses(engine).values()} == {"claimed"}  # run-1's retry or the events settle them


class TimesOut:
    """A transport whose request may have arrived: it must not be sent again."""

    name = "times-out"

    def __init__(self):
        self.calls = 0

    def deliver(self, body) -> Accepted:
        self.calls += 1
        raise Unavailable("timed out after 30s", maybe_sent=True)


def test_a_request_that_may_have_arrived_is_not_retried_and_its_claims_are_reported(engine, options):
    with engine.begin() as conn:
        recipients = [
            Recipient(f"p{i}@example.com", add_person(conn, f"p{i}@example.com"), {"first_name": "A"})
            for i in range(2)
        ]
    transport = TimesOut()
    with pytest.raises(SendingAborted, match="2 claimed with an unknown outcome"):
        send_mailing(engine, WELCOME, recipients, transport, as_of=AS_OF, options=options)
    assert transport.calls == 1  # before: retried four times, a duplicate each time it had arrived
    assert {s for s, _ in statuses(engine).values()} == {"claimed"}


def test_a_400_that_names_one_personalization_fails_that_recipient_and_sends_the_rest(
    engine, standin, sendgrid, options, monkeypatch
):
    # What SendGrid refuses that we did not foresee: the 400 names the personalization; it took nothing.
    from funnelflow.email import send

    monkeypatch.setattr(send, "_map_too_large", lambda values: False)  # let the oversized one through
    with engine.begin() as conn:
        good = [f"g{i}@example.com" for i in range(4)]
        ids = {addr: add_person(conn, addr) for addr in [*good, "huge@example.com"]}
    recipients = [Recipient(a, ids[a], {"first_name": "Ada"}) for a in good]
    recipients.insert(1, Recipient("huge@example.com", ids["huge@example.com"], {"first_name": "y" * 12_000}))
    report = send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options)
    assert (report.sent, report.failed) == (4, 1)
    assert standin.stats["requests"] == 2 and sorted(standin.recipients()) == sorted(good)
    status, error = statuses(engine)[email_hash("huge@example.com")]
    assert status == "failed" and error.startswith("SendGrid 400: personalizations.1.substitutions: ")


def test_a_crash_mid_chunk_releases_what_was_never_handed_over(engine, standin, sendgrid, options):
    with engine.begin() as conn:
        people = [
            Recipient(f"p{i}@example.com", add_person(conn, f"p{i}@example.com"), {"first_name": "A"})
            for i in range(6)
        ]
    # One request per message, one worker, two in flight: the first request's crash leaves four built
    # requests that were never handed to the transport.
    options.batched, options.concurrency, options.run_key = False, 1, "dag/task/run-1"
    calls = []

    def crash_after_the_first_request(name: str) -> None:
        if name == "accepted":
            calls.append(name)
            if len(calls) == 1:
                raise Crash(name)

    options.checkpoint = crash_after_the_first_request
    with pytest.raises(Crash):
        send_mailing(engine, WELCOME, people, sendgrid, as_of=AS_OF, options=options)
    rows = statuses(engine)
    assert sorted(s for s, _ in rows.values()) == ["claimed", "sent"]  # the other four were released
    assert len(standin.recipients()) == 2
    options.checkpoint, options.retry = None, True
    with pytest.raises(SendingIncomplete) as exc:
        send_mailing(engine, WELCOME, people, sendgrid, as_of=AS_OF, options=options)
    assert (exc.value.report.sent, exc.value.report.unsettled, exc.value.report.already_handled) == (4, 1, 1)
    assert sorted(standin.recipients()) == sorted(r.email for r in people)  # everyone once, nobody twice


def test_every_header_of_a_sendgrid_body_is_made_safe_and_a_clean_body_is_left_alone():
    from funnelflow.email.transports import header_safe_body

    tagged = render.render_with_tags("welcome", {"start_url": "https://e.example/g"}, ("first_name",))
    clean = {
        "personalizations": [
            {
                "to": [{"email": "a@example.com"}],
                "substitutions": render.substitutions_for({"first_name": "Al"}),
                "headers": {"List-Unsubscribe": "<https://u.example/1>"},
            }
        ],
        "from": {"email": "hello@example.com", "name": "funnelflow"},
        "subject": tagged.subject,
        "content": [{"type": "text/plain", "value": tagged.text}],
    }
    assert header_safe_body(clean) is clean
    # Substitutions not built by render (another caller): the transport still protects the subject.
    dirty_subs = {render.text_tag("first_name"): "Al\r\nBcc: x", render.html_tag("first_name"): "Al<br>\nB"}
    dirty = {
        **clean,
        "from": {"email": "hello@example.com", "name": "funnel\u2028flow"},
        "reply_to": {"email": "r@example.com", "name": "re\x85ply"},
        "headers": {"X-Campaign": "spring\nBcc: x"},
        "personalizations": [
            {
                "to": [{"email": "a@example.com", "name": "Ann\rB"}],
                "substitutions": dirty_subs,
                "headers": {"X-Note": "one\x0btwo"},
            },
            {"to": [{"email": "b@example.com"}], "subject": "own\nsubject"},
        ],
    }
    out = header_safe_body(dirty)
    assert out["from"]["name"] == "funnel flow" and out["reply_to"]["name"] == "re ply"
    assert out["headers"] == {"X-Campaign": "spring Bcc: x"}
    first, second = out["personalizations"]
    assert first["to"][0]["name"] == "Ann B" and first["headers"] == {"X-Note": "one two"}
    assert first["substitutions"][render.text_tag("first_name")] == "Al Bcc: x"  # in the subject
    assert first["substitutions"][render.html_tag("first_name")] == "Al<br>\nB"  # not in any header
    assert second["subject"] == "own subject"
    assert dirty["from"]["name"] == "funnel\u2028flow"  # the caller's body is not changed


def test_a_raw_value_with_a_line_break_gets_its_recipient_a_safe_subject_of_their_own(
    engine, standin, sendgrid, options
):
    # A later mailing that passes a typed value as is (no personal_text): the batch still goes,
    # that recipient's subject is one line, and the text part keeps what was given.
    with engine.begin() as conn:
        ids = {a: add_person(conn, a) for a in ("ok@example.com", "eve@example.com")}
    recipients = [
        Recipient("ok@example.com", ids["ok@example.com"], {"first_name": "Ada"}),
        Recipient("eve@example.com", ids["eve@example.com"], {"first_name": f"Eve\r\n{INJECTED}"}),
    ]
    report = send_mailing(engine, WELCOME, recipients, sendgrid, as_of=AS_OF, options=options)
    assert (report.sent, report.requests, report.batched) == (2, 1, True)
    ok, eve = standin.sent[0].body["personalizations"]
    assert "subject" not in ok  # everyone else shares the batch's subject
    assert eve["subject"] == f"Welcome to funnelflow, Eve {INJECTED}"
    assert eve["substitutions"][render.text_tag("first_name")] == f"Eve\r\n{INJECTED}"
