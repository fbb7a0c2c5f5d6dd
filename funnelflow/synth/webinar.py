"""The demo's past webinar: invited, registered, held and followed up in the weeks ``synth history`` replays.

One webinar, held on the Thursday of the week replayed ``HELD_WEEKS_BACK`` weeks before the demo's
day, so the weekly report of that week has a webinar section. It goes through the webinar code
the ``webinars`` DAG and the public pages call, each step with the clock pinned to its time:

1. in the week before: the webinar's row (``sync_webinars``), its one invitation wave to everyone
   who had arrived by then (``send_invitations``: the sending layer, marketing consent), a seeded
   share of the invited pressing Register in the days after (``register_invited``, as the one-click
   page does), the confirmations with the calendar file (``send_confirmations``);
2. in its week: the platform's attendee report after the end (Zoom's CSV, most guests staying,
   some leaving under the attended minimum, some never joining: ``import_report``) and the
   follow-ups by outcome (``send_followups``).

The webinar lives in code, not in ``config/webinars/`` (which holds the webinars the DAG runs).
Deterministic from the seed; a rerun registers nobody twice and sends nothing again (the ledger).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa

from funnelflow import clock
from funnelflow.db.schema import leads, webinar_registrations, webinars
from funnelflow.email.transports import Transport
from funnelflow.webinars import emails, registrations
from funnelflow.webinars.config import Webinar, WebinarFile
from funnelflow.webinars.demo import AttendeeRow, invited_leads, zoom_attendee_report

STREAM_WEBINAR = 43  # the rng stream of the past webinar (funnelflow.synth.people numbers the others)
SLUG = "pension-basics-demo"
HELD_WEEKS_BACK = 2  # held in the week replayed at until - 2 weeks
ZONE = "Europe/Berlin"
REGISTER, ATTEND, LEAVE_EARLY = 0.3, 0.6, 0.15  # of the invited; of the registered (the rest never joins)


@dataclass
class WebinarReplay:
    invited: int = 0
    registered: int = 0
    attended: int = 0
    no_show: int = 0


def past_webinar(held_week: datetime) -> Webinar:
    """The webinar held on the Thursday after ``held_week`` (a replay time, a Monday noon UTC), its
    invitation wave on the Tuesday of the week before."""
    zone = ZoneInfo(ZONE)
    starts = (held_week + timedelta(days=3, hours=4)).astimezone(zone).replace(tzinfo=None)
    wave = (held_week - timedelta(days=6, hours=3)).astimezone(zone).replace(tzinfo=None)
    spec = WebinarFile.model_validate(
        {
            "title": "Pension basics in 45 minutes",
            "description": "What a pension plan is made of, and the three questions to ask about yours.",
            "starts_at": starts,
            "timezone": ZONE,
            "duration_minutes": 45,
            "join_url": "https://zoom.example.com/j/81200000001",
            "capacity": 80,
            "host": "Dana Weber, Head of Advisory",
            "recording_url": "https://www.example.com/webinars/pension-basics/recording",
            "attended_min_minutes": 10,
            "invitations": {
                "audience": {
                    "all": [{"engaged": {"within_days": 366}}],  # arrived by the wave
                    "none": [{"lifecycle_stage": ["customer", "disqualified"]}],
                },
                "waves": [wave],
            },
        }
    )
    return Webinar(slug=SLUG, path=Path(f"(funnelflow.synth.webinar)/{SLUG}.yaml"), spec=spec)


def invite_and_register(engine: sa.Engine, w: Webinar, transport: Transport, seed: int) -> WebinarReplay:
    """The week before: the row, the wave, registrations over three days, confirmations."""
    wave = w.wave_times[0]
    with clock.pinned(wave):
        registrations.sync_webinars(engine, [w], at=wave)
        emails.send_invitations(engine, transport, w, as_of=wave + timedelta(minutes=15))
    invited = invited_leads(engine, SLUG)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, STREAM_WEBINAR, 0])
    draws = rng.random(len(invited))
    delays = rng.uniform(1, 72, len(invited))
    for lead_id, u, hours in zip(invited, draws, delays, strict=True):
        if u < REGISTER:
            at = wave + timedelta(hours=float(hours))
            with clock.pinned(at):
                registrations.register_invited(engine, SLUG, lead_id, "invitation", at)
    confirm = wave + timedelta(days=3, hours=1)
    with clock.pinned(confirm):
        emails.send_confirmations(engine, transport, w, as_of=confirm)
    return WebinarReplay(invited=len(invited))


def attendee_report(engine: sa.Engine, w: Webinar, seed: int) -> bytes:
    """Zoom's attendee report of the registered: most stayed, some left under the minimum, the rest never
    joined (drawn from the seed, in lead order)."""
    with engine.connect() as conn:
        guests = conn.execute(
            sa.select(leads.c.email)
            .join(webinar_registrations, webinar_registrations.c.lead_id == leads.c.id)
            .join(webinars, webinars.c.id == webinar_registrations.c.webinar_id)
            .where(webinars.c.slug == SLUG, webinar_registrations.c.status == "registered")
            .order_by(leads.c.id)
        ).scalars()
        emails_in_order = [e for e in guests if e]
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, STREAM_WEBINAR, 1])
    start = w.starts_at.astimezone(w.zone)
    rows: list[AttendeeRow] = []
    for email in emails_in_order:
        u, late, minutes = rng.random(), float(rng.uniform(0, 8)), int(rng.integers(15, 46))
        if u >= ATTEND + LEAVE_EARLY:
            rows.append((email, None, 0))
            continue
        minutes = minutes if u < ATTEND else int(rng.integers(2, 9))
        rows.append((email, start + timedelta(minutes=late), minutes))
    return zoom_attendee_report(w.spec.title, start, rows)


def hold(engine: sa.Engine, w: Webinar, transport: Transport, seed: int) -> WebinarReplay:
    """Its week: the attendee report half an hour after the end, the follow-ups a quarter hour later."""
    from funnelflow.ingest.config import load_sources
    from funnelflow.webinars.attendance_import import import_report

    name = f"{SLUG}-zoom-attendee-report.csv"
    loaded = w.ends_at + timedelta(minutes=30)
    with clock.pinned(loaded):
        result = import_report(
            engine,
            w,
            attendee_report(engine, w, seed),
            name,
            load_sources().file_source_for(name),
            as_of=loaded,
        )
    followed = loaded + timedelta(minutes=15)
    with clock.pinned(followed):
        emails.send_followups(engine, transport, w, as_of=followed)
    return WebinarReplay(attended=result.attended, no_show=result.no_show)
