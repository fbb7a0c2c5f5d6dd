"""The first users of the sending layer: double opt-in confirmations and welcome emails.

- A lead whose newest email consent is ``pending`` (a web-form sign-up under
  double opt-in) gets one confirmation (transactional) per pending consent row;
  its link names that consent (``/confirm/<token>``), never the address.
- A lead whose newest email consent is ``granted`` gets one welcome email
  (marketing) in their life: the message key is ``welcome``.

Only consents recorded within FUNNELFLOW_WELCOME_WINDOW_HOURS before the run's
``as_of`` count as "just" pending or granted, so switching the DAG on does not
greet the whole historical list. Idempotent by message key: a rerun sends nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import sqlalchemy as sa

from funnelflow import consent, settings
from funnelflow.email import policy, render
from funnelflow.email.send import Mailing, Recipient, SendOptions, SendReport, confirm_url, send_mailing
from funnelflow.email.transports import Transport

CONFIRM = Mailing(message_key="confirm", template="confirm", kind=policy.TRANSACTIONAL)
WELCOME_KEY = "welcome"


def window() -> timedelta:
    hours = settings.env_int("FUNNELFLOW_WELCOME_WINDOW_HOURS", 72)
    if hours < 1:
        raise ValueError("FUNNELFLOW_WELCOME_WINDOW_HOURS must be at least 1")
    return timedelta(hours=hours)


def _stream(engine: sa.Engine, stmt, make: Callable[[tuple], Recipient]) -> Iterator[Recipient]:
    with engine.connect() as conn:
        for row in conn.execution_options(yield_per=1000).execute(stmt):
            yield make(row)


def greeting_name(first_name: str | None) -> str:
    """How an email addresses the person: their first name made safe and short
    (anyone can type one), or "there"."""
    return render.personal_text(first_name) or "there"


def send_confirmations(
    engine: sa.Engine, transport: Transport, as_of: datetime, options: SendOptions | None = None
) -> SendReport:
    """Double opt-in confirmations to pending web-form sign-ups (transactional)."""
    stmt = consent.recently_current("pending", as_of - window(), as_of)

    def make(row) -> Recipient:
        consent_id, lead_id, email, first_name = row
        return Recipient(
            email=email,
            lead_id=lead_id,
            values={"first_name": greeting_name(first_name), "confirm_url": confirm_url(consent_id)},
            message_key=f"confirm:{consent_id}",
        )

    return send_mailing(engine, CONFIRM, _stream(engine, stmt, make), transport, as_of=as_of, options=options)


def send_welcomes(
    engine: sa.Engine,
    transport: Transport,
    as_of: datetime,
    options: SendOptions | None = None,
    on_breaker: Callable[[policy.BreakerState], None] | None = None,
) -> SendReport:
    """The welcome email (marketing) to people whose consent was just granted; once per person."""
    mailing = Mailing(
        message_key=WELCOME_KEY,
        template="welcome",
        kind=policy.MARKETING,
        context={
            "start_url": settings.env("FUNNELFLOW_WELCOME_GUIDE_URL", "https://example.com/getting-started")
        },
        # No campaign_id: the welcome email is a message of its own, not part of a campaign.
    )
    stmt = consent.recently_current("granted", as_of - window(), as_of)

    def make(row) -> Recipient:
        _, lead_id, email, first_name = row
        return Recipient(email=email, lead_id=lead_id, values={"first_name": greeting_name(first_name)})

    return send_mailing(
        engine,
        mailing,
        _stream(engine, stmt, make),
        transport,
        as_of=as_of,
        options=options,
        on_breaker=on_breaker,
    )
