"""Every webinar email, through the sending layer, each step once per person.

Message keys name the webinar and the step (``webinar:<slug>:registered``,
``...:reminder-24h``, ``...:update:<sequence>``, ``...:invitation:<wave>``, ...), so the
ledger makes every rerun and retry send nothing twice. What is due is decided from the
run's time (``as_of``), never the wall clock:

- confirmation (transactional) to each registered person, with the calendar file
  attached (the same file for everyone, so the batched path holds) and links to add it
  to Google or Outlook calendars; a waitlist notice to each waitlisted person; a person
  promoted from the waitlist gets the confirmation then;
- reminders (transactional) 24 hours and 1 hour before the start, to registered people;
- an update with a new calendar file (``SEQUENCE`` up, or ``METHOD:CANCEL``) to
  registered and waitlisted people when the file's schedule changes;
- invitation waves (marketing) to the segment in the file, without the people already
  registered, once a wave's time has come (and for a day after, so a paused scheduler
  does not send a stale wave days late);
- follow-ups (marketing) once the attendance is in and the recording is set: attended
  -> the recording and a next step, no-show -> the recording, waitlisted and never
  seated -> an apology with the recording.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from funnelflow import settings
from funnelflow.db.schema import leads, webinar_registrations, webinars
from funnelflow.email import policy
from funnelflow.email.send import Attachment, Mailing, Recipient, SendReport, public_url, send_mailing
from funnelflow.email.transports import Transport
from funnelflow.email.welcome import greeting_name
from funnelflow.webinars import calendar, tokens
from funnelflow.webinars.config import Webinar

REMINDERS = ((24, "reminder-24h"), (1, "reminder-1h"))
WAVE_GRACE = timedelta(hours=24)


@dataclass(frozen=True)
class WebinarRow:
    id: int
    slug: str
    sequence: int
    status: str
    starts_at: datetime
    ends_at: datetime
    recording_url: str | None
    attendance_loaded_at: datetime | None


def message_key(slug: str, step: str) -> str:
    return f"webinar:{slug}:{step}"


def _row(conn: sa.Connection, slug: str) -> WebinarRow:
    r = conn.execute(sa.select(webinars).where(webinars.c.slug == slug)).mappings().one()
    return WebinarRow(
        r["id"],
        r["slug"],
        r["sequence"],
        r["status"],
        r["starts_at"],
        r["ends_at"],
        r["recording_url"],
        r["attendance_loaded_at"],
    )


def _event(w: Webinar, row: WebinarRow) -> calendar.CalendarEvent:
    return calendar.CalendarEvent(
        slug=w.slug,
        title=w.spec.title,
        description=w.spec.description,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        join_url=str(w.spec.join_url),
        organizer_name=w.spec.host,
        sequence=row.sequence,
        cancelled=row.status == "cancelled",
    )


def _context(w: Webinar, row: WebinarRow) -> dict[str, object]:
    event = _event(w, row)
    local = row.starts_at.astimezone(w.zone)
    return {
        "title": w.spec.title,
        "description": w.spec.description.strip(),
        "host": w.spec.host,
        "when_local": f"{local:%A %d %B %Y, %H:%M} ({w.spec.timezone})",
        "duration_minutes": w.spec.duration_minutes,
        "capacity": w.spec.capacity,
        "join_url": str(w.spec.join_url),
        "google_url": calendar.google_calendar_link(event),
        "outlook_url": calendar.outlook_calendar_link(event),
        "recording_url": row.recording_url or "",
        "next_step_url": settings.env("FUNNELFLOW_WEBINAR_NEXT_STEP_URL", "https://example.com/book-a-call"),
        "cancelled": row.status == "cancelled",
    }


def _ics(w: Webinar, row: WebinarRow, as_of: datetime) -> Attachment:
    return Attachment(
        filename=f"{w.slug}.ics", content=calendar.ics(_event(w, row), as_of), mime_type="text/calendar"
    )


def _people(engine: sa.Engine, webinar_id: int, statuses: tuple[str, ...], extra=None) -> Iterator[tuple]:
    stmt = (
        sa.select(webinar_registrations.c.id, leads.c.id, leads.c.email, leads.c.first_name)
        .join(leads, leads.c.id == webinar_registrations.c.lead_id)
        .where(
            webinar_registrations.c.webinar_id == webinar_id,
            webinar_registrations.c.status.in_(statuses),
            leads.c.email.is_not(None),
            leads.c.erased_at.is_(None),
        )
        .order_by(webinar_registrations.c.id)
    )
    if extra is not None:
        stmt = stmt.where(extra)
    with engine.connect() as conn:
        yield from conn.execution_options(yield_per=1000).execute(stmt)


def _registrant(row: tuple) -> Recipient:
    registration_id, lead_id, email, first_name = row
    return Recipient(
        email=email,
        lead_id=lead_id,
        values={"first_name": greeting_name(first_name), "cancel_url": cancel_url(registration_id)},
    )


def cancel_url(registration_id: int) -> str:
    return f"{public_url()}/webinars/cancel/{tokens.cancel_token(registration_id)}"


def invitation_url(slug: str, lead_id: int) -> str:
    return f"{public_url()}/webinars/r/{tokens.invitation_token(slug, lead_id)}"


def _send(
    engine, transport, w: Webinar, step: str, template: str, kind: str, context, people, as_of, files=()
):
    mailing = Mailing(
        message_key=message_key(w.slug, step),
        template=template,
        kind=kind,
        context=context,
        campaign_id=w.slug,
        attachments=tuple(files),
    )
    return send_mailing(engine, mailing, people, transport, as_of=as_of)


def send_confirmations(
    engine: sa.Engine, transport: Transport, w: Webinar, as_of: datetime
) -> dict[str, dict]:
    """Confirmations with the calendar file to registered people; notices to the waitlist."""
    with engine.connect() as conn:
        row = _row(conn, w.slug)
    if row.status != "scheduled" or as_of >= row.ends_at:
        return {}
    context = _context(w, row)
    registered = _send(
        engine,
        transport,
        w,
        "registered",
        "webinar_registered",
        policy.TRANSACTIONAL,
        context,
        map(_registrant, _people(engine, row.id, ("registered",))),
        as_of,
        files=[_ics(w, row, as_of)],
    )
    waitlisted = _send(
        engine,
        transport,
        w,
        "waitlisted",
        "webinar_waitlisted",
        policy.TRANSACTIONAL,
        context,
        map(_registrant, _people(engine, row.id, ("waitlisted",))),
        as_of,
    )
    return {"registered": registered.as_dict(), "waitlisted": waitlisted.as_dict()}


def due_reminder(row: WebinarRow, as_of: datetime) -> tuple[int, str] | None:
    """The reminder due at ``as_of``: 24 h before until 1 h before, then 1 h before until the start."""
    if row.status != "scheduled" or as_of >= row.starts_at:
        return None
    if as_of >= row.starts_at - timedelta(hours=1):
        return REMINDERS[1]
    if as_of >= row.starts_at - timedelta(hours=24):
        return REMINDERS[0]
    return None


def send_reminders(engine: sa.Engine, transport: Transport, w: Webinar, as_of: datetime) -> SendReport | None:
    with engine.connect() as conn:
        row = _row(conn, w.slug)
    due = due_reminder(row, as_of)
    if due is None:
        return None
    hours, step = due
    context = {**_context(w, row), "hours_before": hours}
    people = map(_registrant, _people(engine, row.id, ("registered",)))
    return _send(engine, transport, w, step, "webinar_reminder", policy.TRANSACTIONAL, context, people, as_of)


def send_update(engine: sa.Engine, transport: Transport, w: Webinar, as_of: datetime) -> SendReport | None:
    """A new calendar file for everyone holding or awaiting a seat, once per schedule change (sequence)."""
    with engine.connect() as conn:
        row = _row(conn, w.slug)
    if row.sequence == 0 or as_of >= row.ends_at:
        return None
    people = map(_registrant, _people(engine, row.id, ("registered", "waitlisted")))
    return _send(
        engine,
        transport,
        w,
        f"update:{row.sequence}",
        "webinar_update",
        policy.TRANSACTIONAL,
        _context(w, row),
        people,
        as_of,
        files=[_ics(w, row, as_of)],
    )


def due_waves(w: Webinar, as_of: datetime) -> list[int]:
    return [i for i, at in enumerate(w.wave_times) if at <= as_of < at + WAVE_GRACE]


def send_invitations(engine: sa.Engine, transport: Transport, w: Webinar, as_of: datetime) -> dict[int, dict]:
    """Due invitation waves to the file's segment, without people already registered (marketing)."""
    from funnelflow import segments

    with engine.connect() as conn:
        row = _row(conn, w.slug)
    if row.status != "scheduled" or as_of >= row.starts_at or not w.spec.invitations:
        return {}
    audience = segments.compile_segment(w.spec.invitations.audience, as_of).subquery().select()
    reports: dict[int, dict] = {}
    for wave in due_waves(w, as_of):
        already = sa.select(webinar_registrations.c.lead_id).where(
            webinar_registrations.c.webinar_id == row.id
        )
        stmt = (
            sa.select(leads.c.id, leads.c.email, leads.c.first_name)
            .where(
                leads.c.id.in_(audience),
                leads.c.id.not_in(already),
                leads.c.email.is_not(None),
            )
            .order_by(leads.c.id)
        )

        def people(stmt=stmt) -> Iterator[Recipient]:
            with engine.connect() as conn:
                for lead_id, email, first_name in conn.execution_options(yield_per=1000).execute(stmt):
                    yield Recipient(
                        email=email,
                        lead_id=lead_id,
                        values={
                            "first_name": greeting_name(first_name),
                            "register_url": invitation_url(w.slug, lead_id),
                        },
                    )

        report = _send(
            engine,
            transport,
            w,
            f"invitation:{wave}",
            "webinar_invitation",
            policy.MARKETING,
            _context(w, row),
            people(),
            as_of,
        )
        reports[wave] = report.as_dict()
    return reports


def send_followups(engine: sa.Engine, transport: Transport, w: Webinar, as_of: datetime) -> dict[str, dict]:
    """After the event, once attendance is in and the recording is set (marketing)."""
    with engine.connect() as conn:
        row = _row(conn, w.slug)
    if row.attendance_loaded_at is None or not row.recording_url or as_of < row.ends_at:
        return {}
    out: dict[str, dict] = {}
    for variant, statuses in (
        ("attended", ("attended",)),
        ("no_show", ("no_show",)),
        ("waitlist", ("waitlisted",)),
    ):
        context = {**_context(w, row), "variant": variant}
        people = map(_registrant, _people(engine, row.id, statuses))
        report = _send(
            engine,
            transport,
            w,
            f"followup-{variant.replace('_', '-')}",
            "webinar_followup",
            policy.MARKETING,
            context,
            people,
            as_of,
        )
        out[variant] = report.as_dict()
    return out
