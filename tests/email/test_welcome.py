"""Double opt-in confirmations and welcome emails (the functions the welcome_emails DAG calls)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from funnelflow.db.schema import consents, email_sends
from funnelflow.email import welcome
from funnelflow.email.tokens import read_token
from tests.factories import AS_OF, add_person, suppress


def _consent_id(engine, lead_id: int, status: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(consents.c.id).where(consents.c.lead_id == lead_id, consents.c.status == status)
        ).scalar_one()


def test_pending_double_opt_in_gets_only_its_confirmation(engine, standin, sendgrid, options):
    with engine.begin() as conn:
        lead = add_person(
            conn,
            "new@example.com",
            first_name="<i>Nina</i>",
            consent=[("pending", AS_OF - timedelta(minutes=3))],
        )
        old = add_person(
            conn, "old@example.com", consent=[("pending", AS_OF - timedelta(days=30))]
        )  # outside the window
        later = add_person(
            conn, "later@example.com", consent=[("pending", AS_OF + timedelta(minutes=1))]
        )  # next run's
    conf = welcome.send_confirmations(engine, sendgrid, AS_OF, options)
    wel = welcome.send_welcomes(engine, sendgrid, AS_OF, options)
    assert conf.sent == 1 and wel.sent == 0
    assert standin.recipients() == ["new@example.com"]
    [req] = standin.sent
    assert req.body["subject"].startswith("Please confirm")
    p = req.body["personalizations"][0]
    assert "headers" not in p  # transactional: no List-Unsubscribe
    confirm_link = next(v for k, v in p["substitutions"].items() if k == "-ff_confirm_url_t-")
    assert confirm_link.startswith("https://mkt.example.org/funnelflow/confirm/")
    assert read_token("confirm", confirm_link.rsplit("/", 1)[1]) == _consent_id(engine, lead, "pending")
    assert p["substitutions"]["-ff_first_name_h-"] == "&lt;i&gt;Nina&lt;/i&gt;"
    # Rerun: nothing twice.
    assert welcome.send_confirmations(engine, sendgrid, AS_OF, options).sent == 0
    assert len(standin.sent) == 1
    assert old and later

    # The person confirms (the public app appends `granted`): the next run welcomes them, once.
    with engine.begin() as conn:
        conn.execute(
            sa.insert(consents).values(
                lead_id=lead, status="granted", recorded_at=AS_OF + timedelta(minutes=2)
            )
        )
    next_run = AS_OF + timedelta(minutes=5)
    assert welcome.send_confirmations(engine, sendgrid, next_run, options).sent == 1  # `later` is due now
    assert welcome.send_welcomes(engine, sendgrid, next_run, options).sent == 1
    assert welcome.send_welcomes(engine, sendgrid, next_run + timedelta(minutes=5), options).sent == 0
    assert sorted(standin.recipients()) == ["later@example.com", "new@example.com", "new@example.com"]
    welcome_req = standin.sent[-1].body
    assert (
        welcome_req["subject"].startswith("Welcome to")
        and "List-Unsubscribe" in welcome_req["personalizations"][0]["headers"]
    )


def test_welcome_skips_are_recorded_and_bounced_addresses_get_no_confirmation(
    engine, standin, sendgrid, options
):
    with engine.begin() as conn:
        add_person(conn, "fine@example.com")
        add_person(conn, "unsub@example.com")
        suppress(conn, "unsub@example.com", "unsubscribe")
        add_person(conn, "bounce@example.com", consent=[("pending", AS_OF - timedelta(hours=1))])
        suppress(conn, "bounce@example.com", "bounce")
    welcome.send_confirmations(engine, sendgrid, AS_OF, options)
    welcome.send_welcomes(engine, sendgrid, AS_OF, options)
    assert standin.recipients() == ["fine@example.com"]
    with engine.connect() as conn:
        rows = sorted(
            conn.execute(
                sa.select(email_sends.c.message_key, email_sends.c.status, email_sends.c.skip_reason)
            ).all()
        )
    assert [(k.split(":")[0], s, r) for k, s, r in rows] == [
        ("confirm", "skipped", "suppressed:bounce"),
        ("welcome", "sent", None),
        ("welcome", "skipped", "suppressed:unsubscribe"),
    ]
