"""The demo's past weeks of email: a weekly newsletter through the sending layer, and its SendGrid events.

Per replayed week (``funnelflow.synth.history``), with the clock pinned to the time each thing
happens (``funnelflow.clock``), so every stamp falls in that week:

1. the newsletter ``demo-weekly-digest`` (``send_newsletter``) to everyone who had arrived by
   then (a scored touch up to the send time, ``funnelflow.segments``) and is not disqualified,
   through ``send_mailing``: the policy (consent, suppressions, the frequency cap), the ledger
   (one message key per week, so a rerun sends nobody twice) and the demo's transport (the outbox);
2. SendGrid-style events for the week's ledger rows that went out to leads, the newsletter's and
   the past webinar's (``replay_week_events``): delivered or bounced (a few, 5.1.1), opens (some
   of them machine opens, Apple Mail privacy style), clicks, a few unsubscribes and spam reports,
   all within four days of the send. Each event is what SendGrid's webhook posts (custom_args
   ``send_id``/``campaign_id`` flattened in, an ``sg_event_id``), stored with ``store_events``
   and turned into touchpoints, suppressions, consent withdrawals and ledger states by
   ``process_events``, as the public app and the ``email_engagement`` DAG do.

``events_since`` makes the same events for ``make demo``'s own week (``synth events``), where no
provider posts any.

Deterministic: a send's events are drawn from (seed, send day, send id) alone and their ids name
the send, so a rerun stores nothing new.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa

from funnelflow import clock
from funnelflow.campaigns.content import render_markdown, with_utm
from funnelflow.campaigns.run import message_key, run_key
from funnelflow.db.schema import email_sends, leads
from funnelflow.email import events, policy
from funnelflow.email.send import Mailing, Recipient, SendOptions, send_mailing
from funnelflow.email.transports import Transport
from funnelflow.email.welcome import greeting_name
from funnelflow.segments import Segment, compile_segment

STREAM_MAIL = 42  # the rng stream of the past weeks' email (funnelflow.synth.people numbers the others)
NEWSLETTER = "demo-weekly-digest"  # email_sends.campaign_id of the weekly newsletter
SEND_AFTER = timedelta(hours=20)  # the Tuesday 09:00 (Berlin) after the replay's Monday noon
EVENTS_WITHIN = timedelta(days=4)  # every event of a send falls in the send's ISO week
# When the week's events are stored and processed: after the newsletter's and the webinar's emails.
PROCESS_AFTER = EVENTS_WITHIN + timedelta(hours=1)
AUDIENCE = Segment.model_validate(
    {
        "all": [{"engaged": {"within_days": 366}}],  # arrived by the send: a scored touch before it
        "none": [{"lifecycle_stage": ["disqualified"]}],
    }
)
BODY = """# This week at the funnel

Three things we shipped, one article worth your coffee, and the next webinar.

[Read what shipped](https://www.example.com/changelog)

[The article](https://www.example.com/blog/weekly)

[Save a seat](https://www.example.com/webinars)
"""
LINKS = (
    "https://www.example.com/changelog",
    "https://www.example.com/blog/weekly",
    "https://www.example.com/webinars",
)
# Of the messages that went out: bounced (the rest is delivered); of the delivered: opened by a person,
# opened by a machine (a privacy proxy fetching the pixel on arrival), reported as spam; of the opened:
# clicked, unsubscribed. Spam reports as rare as a healthy list's: at the circuit breaker's 0.3% they
# paused the demo's campaign (policy.breaker_state counts the week's welcome emails too).
BOUNCE, OPEN, MACHINE_OPEN, SPAM = 0.02, 0.38, 0.18, 0.0005
CLICK, UNSUBSCRIBE = 0.22, 0.02


def newsletter_key(as_of: datetime) -> str:
    """The ledger's message key of the week replayed at ``as_of`` (one per week: nobody gets it twice)."""
    return message_key(NEWSLETTER, run_key(as_of))


def _recipients(engine: sa.Engine, at: datetime) -> Iterator[Recipient]:
    ids = compile_segment(AUDIENCE, at).subquery()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(leads.c.id, leads.c.email, leads.c.first_name)
            .join(ids, ids.c.id == leads.c.id)
            .where(leads.c.email.is_not(None))
            .order_by(leads.c.id)
        ).all()
    for lead_id, email, first_name in rows:
        yield Recipient(email=email, lead_id=lead_id, values={"subject_line": _subject(first_name)})


def _subject(first_name: str | None) -> str:
    return f"{greeting_name(first_name)}, this week at the funnel"


def send_newsletter(engine: sa.Engine, as_of: datetime, transport: Transport) -> tuple[int, int]:
    """The week's newsletter through the sending layer, stamped at its send time; (sent, skipped)."""
    at = as_of + SEND_AFTER
    body = render_markdown(BODY, NEWSLETTER)
    mailing = Mailing(
        message_key=newsletter_key(as_of),
        template="newsletter",
        kind=policy.MARKETING,
        context={"body_html": body.html, "body_text": body.text},
        campaign_id=NEWSLETTER,
    )
    with clock.pinned(at):
        report = send_mailing(
            engine,
            mailing,
            _recipients(engine, at),
            transport,
            as_of=at,
            options=SendOptions(rate_per_s=0, concurrency=1, run_key=f"demo-history/{NEWSLETTER}"),
        )
    return report.sent, sum(report.skipped.values())


def _event(send: sa.Row, name: str, at: datetime, n: int, campaign: str, **extra: Any) -> dict[str, Any]:
    """One item as SendGrid's event webhook posts it (custom_args flattened in)."""
    return {
        "email": send.email,
        "event": name,
        "timestamp": int(at.timestamp()),
        "sg_event_id": f"demo-{send.id}-{name}-{n}",
        "sg_message_id": f"demo{send.id}.filter",
        "send_id": str(send.id),
        "campaign_id": campaign,
        **extra,
    }


def events_for(send: sa.Row, seed: int, until: datetime | None = None) -> list[dict[str, Any]]:
    """A send's events, drawn from (seed, its send day, send id) alone; none at or after ``until``
    (default: the send's time plus EVENTS_WITHIN)."""
    day = send.sent_at.date().toordinal()
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, STREAM_MAIL, day, send.id])
    sent_at: datetime = send.sent_at
    campaign = send.campaign_id or ""
    end = min(sent_at + EVENTS_WITHIN, until or sent_at + EVENTS_WITHIN)
    if end - sent_at < timedelta(minutes=10):
        return []  # too recent for SendGrid to have said anything yet

    def later(after: datetime, hours: float) -> datetime:
        return min(after + timedelta(hours=hours), end - timedelta(minutes=1))

    if rng.random() < BOUNCE:
        at = later(sent_at, float(rng.uniform(0.001, 0.02)))
        reason = "550 5.1.1 The email account that you tried to reach does not exist"
        return [_event(send, "bounce", at, 0, campaign, type="bounce", status="5.1.1", reason=reason)]
    delivered = later(sent_at, float(rng.uniform(0.001, 0.05)))
    out = [_event(send, "delivered", delivered, 0, campaign, response="250 OK")]
    if rng.random() < MACHINE_OPEN:
        machine = later(delivered, float(rng.uniform(0.0005, 0.01)))
        out.append(_event(send, "open", machine, 0, campaign, sg_machine_open=True))
    if rng.random() < SPAM:
        out.append(_event(send, "spamreport", later(delivered, float(rng.uniform(1, 30))), 0, campaign))
        return out
    if rng.random() >= OPEN:
        return out
    opened = later(delivered, float(rng.exponential(8.0)))
    out.append(_event(send, "open", opened, 1, campaign, sg_machine_open=False))
    if rng.random() < CLICK:
        clicked = later(opened, float(rng.uniform(0.01, 0.5)))
        url = with_utm(LINKS[int(rng.integers(len(LINKS)))], NEWSLETTER)
        out.append(_event(send, "click", clicked, 0, campaign, url=url))
    if rng.random() < UNSUBSCRIBE:
        out.append(_event(send, "unsubscribe", later(opened, float(rng.uniform(0.02, 1))), 0, campaign))
    return out


def _sends(engine: sa.Engine, *where: sa.ColumnElement[bool]) -> list[sa.Row]:
    """Ledger rows that went out to a lead (events name the lead's address), in id order."""
    with engine.connect() as conn:
        return conn.execute(
            sa.select(email_sends.c.id, email_sends.c.sent_at, email_sends.c.campaign_id, leads.c.email)
            .join(leads, leads.c.id == email_sends.c.lead_id)
            .where(email_sends.c.sent_at.is_not(None), leads.c.email.is_not(None), *where)
            .order_by(email_sends.c.id)
        ).all()


def _store_and_process(engine: sa.Engine, items: list[dict[str, Any]], at: datetime) -> int:
    stored = events.store_events(engine, items).stored if items else 0
    events.process_events(engine, as_of=at)
    return stored


def replay_week_events(engine: sa.Engine, as_of: datetime, seed: int) -> int:
    """The SendGrid events of every message the week replayed at ``as_of`` sent (the newsletter, the
    past webinar's), up to the week's processing time, stored and processed then; how many were new."""
    at = as_of + PROCESS_AFTER
    with clock.pinned(at):
        return events_since(engine, as_of, at, seed)


def events_since(engine: sa.Engine, since: datetime, as_of: datetime, seed: int) -> int:
    """SendGrid-style events, up to ``as_of``, for every message sent to a lead from ``since``
    (``make demo``: its own week's welcome and campaign emails), stored and processed now (the clock
    as the caller set it) as of ``as_of``; how many were new. A rerun stores nothing new."""
    sends = _sends(engine, email_sends.c.sent_at >= since, email_sends.c.sent_at < as_of)
    return _store_and_process(engine, [i for send in sends for i in events_for(send, seed, as_of)], as_of)
