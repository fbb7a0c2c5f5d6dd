"""The ``webinars`` and ``webinar_registrations`` tables: this module is their only writer.

Capacity is the database's job, not the application's: a seat is taken by one
conditional ``update webinars set seats_taken = seats_taken + 1 where seats_taken <
capacity``, which PostgreSQL re-checks after waiting for a concurrent writer's row lock
and SQLite runs one writer at a time; a check constraint refuses any write that would
overbook. Whoever does not get a seat is ``waitlisted``; the waitlist is served in
arrival order (``registered_at``, then id). A cancellation hands its seat straight to
the first waitlisted person in the same transaction, so a newcomer cannot slip in
between.

A person has one registration per webinar: registering again returns the one they
have (a cancelled one is revived and queued like a new arrival).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from funnelflow.db.schema import leads, touchpoints, webinar_registrations, webinars
from funnelflow.webinars.config import Webinar

HOLDS_SEAT = ("registered", "attended")
ACTIVE = ("registered", "waitlisted", "attended", "no_show")


class WebinarNotFound(LookupError):
    pass


class WebinarClosed(ValueError):
    """Registration is refused: the webinar was cancelled or has ended."""


@dataclass(frozen=True)
class Registration:
    id: int
    webinar_id: int
    lead_id: int
    status: str
    created: bool  # False when the person already had this registration


@dataclass(frozen=True)
class WebinarChange:
    slug: str
    change: str  # created, rescheduled, cancelled, updated, unchanged
    sequence: int


def _insert(conn: Connection, table: sa.Table):
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def sync_webinars(engine: Engine, files: Iterable[Webinar], at: datetime) -> list[WebinarChange]:
    """Keep one row per webinar file in step with the file; a changed schedule bumps SEQUENCE."""
    changes: list[WebinarChange] = []
    with engine.begin() as conn:
        for w in files:
            row = conn.execute(sa.select(webinars).where(webinars.c.slug == w.slug)).mappings().first()
            values: dict[str, Any] = {
                "title": w.spec.title,
                "starts_at": w.starts_at,
                "ends_at": w.ends_at,
                "timezone": w.spec.timezone,
                "status": w.status,
                "schedule_hash": w.schedule_hash,
                "join_url": str(w.spec.join_url),
                "recording_url": str(w.spec.recording_url) if w.spec.recording_url else None,
                "host": w.spec.host,
                "updated_at": at,
            }
            if row is None:
                conn.execute(
                    webinars.insert().values(
                        slug=w.slug,
                        capacity=w.spec.capacity,
                        seats_taken=0,
                        sequence=0,
                        created_at=at,
                        **values,
                    )
                )
                changes.append(WebinarChange(w.slug, "created", 0))
                continue
            sequence = row["sequence"]
            if row["schedule_hash"] != w.schedule_hash:
                sequence += 1
                change = (
                    "cancelled" if w.status == "cancelled" and row["status"] != "cancelled" else "rescheduled"
                )
            else:
                change = "unchanged"
            # Lowering the capacity never removes a seat someone holds: the stored capacity stays at
            # least the seats taken, and the file's number applies as seats free up.
            capacity = max(w.spec.capacity, row["seats_taken"])
            if change == "unchanged" and any(row[k] != v for k, v in values.items() if k != "updated_at"):
                change = "updated"
            if change == "unchanged" and capacity == row["capacity"]:
                changes.append(WebinarChange(w.slug, change, sequence))
                continue
            conn.execute(
                sa.update(webinars)
                .where(webinars.c.id == row["id"])
                .values(capacity=capacity, sequence=sequence, **values)
            )
            if capacity > row["capacity"]:
                _promote_waitlisted(conn, row["id"], at, seats=capacity - row["seats_taken"])
            changes.append(WebinarChange(w.slug, "updated" if change == "unchanged" else change, sequence))
    return changes


def webinar_row(conn: Connection, slug: str) -> dict[str, Any]:
    row = conn.execute(sa.select(webinars).where(webinars.c.slug == slug)).mappings().first()
    if row is None:
        raise WebinarNotFound(slug)
    return dict(row)


def _take_seat(conn: Connection, webinar_id: int) -> bool:
    result = conn.execute(
        sa.update(webinars)
        .where(webinars.c.id == webinar_id, webinars.c.seats_taken < webinars.c.capacity)
        .values(seats_taken=webinars.c.seats_taken + 1)
    )
    return result.rowcount == 1


def _touch(conn: Connection, lead_id: int, slug: str, touch_type: str, at: datetime, detail: dict) -> None:
    """One touch per person, webinar and kind, however it arrived (a new attendee's came with its lead)."""
    source_ref = f"webinar:{slug}:{touch_type}:{lead_id}"
    already = conn.execute(
        sa.select(touchpoints.c.id)
        .where(
            touchpoints.c.lead_id == lead_id,
            touchpoints.c.touch_type == touch_type,
            touchpoints.c.channel == "webinar",
            touchpoints.c.campaign == slug,
        )
        .limit(1)
    ).first()
    if already:
        return
    conn.execute(
        _insert(conn, touchpoints)
        .values(
            lead_id=lead_id,
            occurred_at=at,
            channel="webinar",
            touch_type=touch_type,
            source="webinar",
            campaign=slug,
            detail=detail,
            source_ref=source_ref,
            scored=True,
            created_at=at,
        )
        .on_conflict_do_nothing(index_elements=["source_ref"])
    )


def register_invited(engine: Engine, slug: str, lead_id: int, source: str, at: datetime) -> str:
    """The one-click registration of the lead an invitation names (merged: the survivor).

    The status (``registered``, ``waitlisted``), ``invalid`` for an unknown or erased lead,
    ``closed`` for a webinar that takes no registrations. On PostgreSQL a new registration
    is one statement (one round trip); everything else takes ``register``'s path.
    """
    fast = _register_in_one_statement(engine, slug, lead_id, source, at)
    if fast is not None:
        return fast.status
    with engine.connect() as conn:
        lead = conn.execute(
            sa.select(leads.c.id, leads.c.merged_into_id, leads.c.erased_at).where(leads.c.id == lead_id)
        ).first()
    if lead is None or lead.erased_at is not None:
        return "invalid"
    try:
        return register(engine, slug, lead.merged_into_id or lead.id, source, at).status
    except (WebinarClosed, WebinarNotFound):
        return "closed"


def _register_in_one_statement(
    engine: Engine, slug: str, lead_id: int, source: str, at: datetime
) -> Registration | None:
    """PostgreSQL: a new registration (seat, row, touch) in one statement, outside a transaction
    block (a single statement is atomic: no BEGIN and COMMIT round trips). ``None`` when the
    person is registered already, the lead is missing, erased or merged away, the webinar takes
    no registrations, or on SQLite: the caller then takes ``register``'s path, which answers each."""
    from funnelflow import sql

    if engine.dialect.name != "postgresql":
        return None
    params = {"slug": slug, "lead_id": lead_id, "source": source, "at": at}
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            row = conn.execute(sql.load("webinars/register_new", "postgresql"), params).first()
    except sa.exc.IntegrityError:  # registered already: nothing of the statement stays
        return None
    if row is None:
        return None
    return Registration(row.id, row.webinar_id, row.lead_id, row.status, created=True)


def register(engine: Engine, slug: str, lead_id: int, source: str, at: datetime) -> Registration:
    """Register ``lead_id`` (a seat if one is free, else the waitlist); idempotent per person."""
    if (fast := _register_in_one_statement(engine, slug, lead_id, source, at)) is not None:
        return fast
    with engine.begin() as conn:
        w = webinar_row(conn, slug)
        if w["status"] != "scheduled" or w["ends_at"] <= at:
            raise WebinarClosed(slug)
        inserted = conn.execute(
            _insert(conn, webinar_registrations)
            .values(
                webinar_id=w["id"],
                lead_id=lead_id,
                status="waitlisted",
                source=source,
                holds_seat=False,
                registered_at=at,
                updated_at=at,
            )
            .on_conflict_do_nothing(index_elements=["webinar_id", "lead_id"])
            .returning(webinar_registrations.c.id)
        ).first()
        if inserted is None:
            existing = (
                conn.execute(
                    sa.select(webinar_registrations).where(
                        webinar_registrations.c.webinar_id == w["id"],
                        webinar_registrations.c.lead_id == lead_id,
                    )
                )
                .mappings()
                .one()
            )
            if existing["status"] != "cancelled":
                return Registration(existing["id"], w["id"], lead_id, existing["status"], created=False)
            reg_id = existing["id"]
            # Back in the queue as a new arrival.
            conn.execute(
                sa.update(webinar_registrations)
                .where(webinar_registrations.c.id == reg_id)
                .values(
                    status="waitlisted", registered_at=at, cancelled_at=None, source=source, updated_at=at
                )
            )
        else:
            reg_id = inserted.id
        status = "waitlisted"
        if _take_seat(conn, w["id"]):
            status = "registered"
            conn.execute(
                sa.update(webinar_registrations)
                .where(webinar_registrations.c.id == reg_id)
                .values(status=status, holds_seat=True)
            )
        _touch(conn, lead_id, slug, "webinar_registered", at, {"status": status, "source": source})
        return Registration(reg_id, w["id"], lead_id, status, created=True)


def _promote_waitlisted(conn: Connection, webinar_id: int, at: datetime, seats: int) -> list[int]:
    """Give up to ``seats`` free seats to the first waitlisted people; the lead ids promoted."""
    promoted: list[int] = []
    for _ in range(max(seats, 0)):
        query = (
            sa.select(webinar_registrations.c.id, webinar_registrations.c.lead_id)
            .where(
                webinar_registrations.c.webinar_id == webinar_id,
                webinar_registrations.c.status == "waitlisted",
            )
            .order_by(webinar_registrations.c.registered_at, webinar_registrations.c.id)
            .limit(1)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        nxt = conn.execute(query).first()
        if nxt is None or not _take_seat(conn, webinar_id):
            break
        conn.execute(
            sa.update(webinar_registrations)
            .where(webinar_registrations.c.id == nxt.id)
            .values(status="registered", holds_seat=True, promoted_at=at, updated_at=at)
        )
        promoted.append(nxt.lead_id)
    return promoted


def cancel(engine: Engine, registration_id: int, at: datetime) -> tuple[bool, list[int]]:
    """Cancel one registration; its seat goes to the first waitlisted. (cancelled now?, promoted leads)."""
    with engine.begin() as conn:
        reg = (
            conn.execute(
                sa.select(webinar_registrations)
                .where(webinar_registrations.c.id == registration_id)
                .with_for_update()
            )
            .mappings()
            .first()
        )
        if reg is None or reg["status"] not in ("registered", "waitlisted"):
            return False, []
        conn.execute(
            sa.update(webinar_registrations)
            .where(webinar_registrations.c.id == registration_id)
            .values(status="cancelled", holds_seat=False, cancelled_at=at, updated_at=at)
        )
        if not reg["holds_seat"]:
            return True, []
        conn.execute(
            sa.update(webinars)
            .where(webinars.c.id == reg["webinar_id"])
            .values(seats_taken=webinars.c.seats_taken - 1)
        )
        return True, _promote_waitlisted(conn, reg["webinar_id"], at, seats=1)


def registration_of(conn: Connection, registration_id: int) -> dict[str, Any] | None:
    row = (
        conn.execute(
            sa.select(webinar_registrations, webinars.c.slug)
            .join(webinars, webinars.c.id == webinar_registrations.c.webinar_id)
            .where(webinar_registrations.c.id == registration_id)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


@dataclass
class AttendanceResult:
    attended: int = 0
    no_show: int = 0
    unknown_people: int = 0  # attendees who are not leads yet (landed through the lead path instead)


def record_attendance(
    engine: Engine,
    slug: str,
    minutes_by_lead: dict[int, tuple[int, datetime]],
    min_minutes: int,
    at: datetime,
) -> AttendanceResult:
    """Mark attendance from a report: attended (>= min minutes), else no_show; absent registrants no_show.

    ``minutes_by_lead`` holds each person's summed minutes and first join time. Attendees
    without a registration get one (source ``attendance``), holding no seat: the event is over.
    Rerunning with the same report gives the same rows.
    """
    result = AttendanceResult()
    with engine.begin() as conn:
        w = webinar_row(conn, slug)
        for lead_id, (minutes, joined_at) in sorted(minutes_by_lead.items()):
            status = "attended" if minutes >= min_minutes else "no_show"
            conn.execute(
                _insert(conn, webinar_registrations)
                .values(
                    webinar_id=w["id"],
                    lead_id=lead_id,
                    status=status,
                    source="attendance",
                    holds_seat=False,
                    registered_at=joined_at,
                    updated_at=at,
                )
                .on_conflict_do_nothing(index_elements=["webinar_id", "lead_id"])
            )
            conn.execute(
                sa.update(webinar_registrations)
                .where(
                    webinar_registrations.c.webinar_id == w["id"],
                    webinar_registrations.c.lead_id == lead_id,
                    webinar_registrations.c.status != "cancelled",
                )
                .values(status=status, minutes_attended=minutes, first_joined_at=joined_at, updated_at=at)
            )
            touch = "webinar_attended" if status == "attended" else "webinar_no_show"
            _touch(
                conn,
                lead_id,
                slug,
                touch,
                joined_at if status == "attended" else w["ends_at"],
                {"minutes": minutes},
            )
            if status == "attended":
                result.attended += 1
            else:
                result.no_show += 1
        absent = (
            conn.execute(
                sa.select(webinar_registrations.c.lead_id).where(
                    webinar_registrations.c.webinar_id == w["id"],
                    webinar_registrations.c.status == "registered",
                )
            )
            .scalars()
            .all()
        )
        for lead_id in absent:
            _touch(conn, lead_id, slug, "webinar_no_show", w["ends_at"], {"minutes": 0})
        if absent:
            conn.execute(
                sa.update(webinar_registrations)
                .where(
                    webinar_registrations.c.webinar_id == w["id"],
                    webinar_registrations.c.status == "registered",
                )
                .values(status="no_show", minutes_attended=0, updated_at=at)
            )
            result.no_show += len(absent)
        if w["attendance_loaded_at"] is None:
            conn.execute(sa.update(webinars).where(webinars.c.id == w["id"]).values(attendance_loaded_at=at))
    return result


def numbers(engine: Engine, slug: str) -> dict[str, int]:
    """Registrations by status for ``webinars status``."""
    with engine.connect() as conn:
        w = webinar_row(conn, slug)
        rows = conn.execute(
            sa.select(webinar_registrations.c.status, sa.func.count())
            .where(webinar_registrations.c.webinar_id == w["id"])
            .group_by(webinar_registrations.c.status)
        ).all()
    counts = {status: 0 for status in ("registered", "waitlisted", "cancelled", "attended", "no_show")}
    counts.update({status: n for status, n in rows})
    counts["capacity"] = w["capacity"]
    counts["seats_taken"] = w["seats_taken"]
    return counts


def invited(engine: Engine, slug: str) -> int:
    """People sent at least one invitation to this webinar (ledger rows of its invitation waves)."""
    from funnelflow.db.schema import email_sends

    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count(sa.distinct(email_sends.c.recipient_hash))).where(
                email_sends.c.message_key.like(f"{invitation_key_prefix(slug)}%"),
                email_sends.c.status.in_(["sent", "delivered", "bounced", "unsettled"]),
            )
        ).scalar_one()


def invitation_key_prefix(slug: str) -> str:
    return f"webinar:{slug}:invitation:"


def lead_ids_by_email_key(conn: Connection, keys: Iterable[str]) -> dict[str, int]:
    """Live (not merged away, not erased) leads by email key."""
    keys = list(set(keys))
    found: dict[str, int] = {}
    for start in range(0, len(keys), 900):
        part = keys[start : start + 900]
        found.update(
            conn.execute(
                sa.select(leads.c.email_key, leads.c.id).where(
                    leads.c.email_key.in_(part), leads.c.merged_into_id.is_(None), leads.c.erased_at.is_(None)
                )
            ).all()
        )
    return found
