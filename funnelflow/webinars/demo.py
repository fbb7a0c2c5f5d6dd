"""``make demo``'s webinar guests: people register the ways the public pages register them, at the demo's
time, and the platform's attendee report is the one those people would produce.

The demo walks one webinar through the webinars DAG at successive run times (invitation wave,
confirmations, reminders, follow-ups); this module plays the people in between. It calls the same
functions as the public pages (the one-click link's and the form's), with the demo's time instead
of the wall clock, so the demo gives the same result whenever it runs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from funnelflow.db.schema import email_sends, leads
from funnelflow.webinars import registrations
from funnelflow.webinars.config import Webinar

ZOOM_TIME = "%m/%d/%Y %H:%M:%S"  # local to the webinar's zone, as Zoom writes it
ZOOM_ATTENDEE_HEADER = (
    "Attended",
    "User Name (Original Name)",
    "Email",
    "Join Time",
    "Leave Time",
    "Time in Session (minutes)",
)


AttendeeRow = tuple[str, datetime | None, int]  # email, joined (None: never joined), minutes in session


def zoom_attendee_report(title: str, start: datetime, rows: Iterable[AttendeeRow]) -> bytes:
    """A Zoom attendee report as Zoom exports it, one row per guest; ``start`` in the webinar's zone."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Attendee Report"])
    writer.writerow(["Topic", "Actual Start Time"])
    writer.writerow([title, f"{start:{ZOOM_TIME}}"])
    writer.writerow(["Attendee Details"])
    writer.writerow(ZOOM_ATTENDEE_HEADER)
    for email, joined, minutes in rows:
        if joined is None:
            writer.writerow(["No", "Guest", email, "--", "--", "--"])
        else:
            left = f"{joined + timedelta(minutes=minutes):{ZOOM_TIME}}"
            writer.writerow(["Yes", "Guest", email, f"{joined:{ZOOM_TIME}}", left, str(minutes)])
    return out.getvalue().encode("utf-8")


FORM_GUEST = {"email": "webinar.guest@example.org", "first_name": "Demo", "company": "Example GmbH"}


@dataclass(frozen=True)
class Guests:
    one_click: list[tuple[int, str]]  # (lead id, status) of invited leads who pressed Register
    form: str  # the status of the person who used the registration page


def invited_leads(engine: sa.Engine, slug: str, limit: int | None = None) -> list[int]:
    """The invited leads (by lead id; the first ``limit``) that the ledger shows an invitation was sent to."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(email_sends.c.lead_id)
                .where(
                    email_sends.c.message_key.startswith(registrations.invitation_key_prefix(slug)),
                    email_sends.c.sent_at.is_not(None),  # sent, whatever its events said since
                )
                .distinct()
                .order_by(email_sends.c.lead_id)
                .limit(limit)
            ).scalars()
        )


def register_guests(engine: sa.Engine, webinar: Webinar, at: datetime, one_click: int = 2) -> Guests:
    """Invited leads press Register on their one-click page; a new person fills in the form. Rerun: same."""
    from funnelflow.web.webinars import RegistrationForm, register_form_post

    clicked = [
        (lead_id, registrations.register_invited(engine, webinar.slug, lead_id, "invitation", at))
        for lead_id in invited_leads(engine, webinar.slug, one_click)
    ]
    form = RegistrationForm(**FORM_GUEST, consent=True)
    return Guests(clicked, register_form_post(engine, webinar, form, "127.0.0.1", at))


def attendee_report(engine: sa.Engine, webinar: Webinar, guests: Guests) -> bytes:
    """A Zoom attendee report: the form guest stayed 45 minutes, the first one-click guest 5 (under the
    webinar's attended minimum: a no-show), the others never joined."""
    ids = [lead_id for lead_id, _ in guests.one_click]
    with engine.connect() as conn:
        emails = dict(conn.execute(sa.select(leads.c.id, leads.c.email).where(leads.c.id.in_(ids))).all())
    start = webinar.starts_at.astimezone(webinar.zone)
    joined = start + timedelta(minutes=2)
    rows: list[AttendeeRow] = [(FORM_GUEST["email"], joined, 45)]
    rows += [
        (emails[lead_id], joined if i == 0 else None, 5 if i == 0 else 0) for i, lead_id in enumerate(ids)
    ]
    return zoom_attendee_report(webinar.spec.title, start, rows)
