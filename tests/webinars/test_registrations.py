"""Registrations: capacity held by the database under concurrency, waitlist order, cancel, attendance."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from funnelflow.db.schema import leads, touchpoints, webinar_registrations, webinars
from funnelflow.identity import email_key
from funnelflow.webinars import registrations as regs
from funnelflow.webinars.config import load_webinar

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
FILE = """title: Retirement planning
starts_at: "2026-12-10T16:00:00"
timezone: Europe/Berlin
duration_minutes: 60
join_url: https://zoom.example.com/j/1
capacity: {capacity}
host: Dana
"""


def _webinar(tmp_path: Path, capacity: int, extra: str = ""):
    path = tmp_path / "webinars" / "rp.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FILE.format(capacity=capacity) + extra)
    return load_webinar(path)


def _leads(engine, n: int) -> list[int]:
    with engine.begin() as conn:
        return [
            conn.execute(
                leads.insert()
                .values(
                    email=f"p{i}@example.org",
                    email_key=email_key(f"p{i}@example.org"),
                    created_at=AT,
                    updated_at=AT,
                )
                .returning(leads.c.id)
            ).scalar_one()
            for i in range(n)
        ]


def _statuses(engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(
            conn.execute(sa.select(webinar_registrations.c.lead_id, webinar_registrations.c.status)).all()
        )


def test_capacity_then_waitlist_in_arrival_order_and_reregistering_adds_nothing(engine, tmp_path):
    regs.sync_webinars(engine, [_webinar(tmp_path, 2)], AT)
    people = _leads(engine, 4)
    got = [
        regs.register(engine, "rp", lead, "form", AT + timedelta(seconds=i)) for i, lead in enumerate(people)
    ]
    assert [r.status for r in got] == ["registered", "registered", "waitlisted", "waitlisted"]
    again = regs.register(engine, "rp", people[0], "invitation", AT + timedelta(minutes=5))
    assert (again.created, again.status, again.id) == (False, "registered", got[0].id)
    with engine.connect() as conn:
        assert conn.execute(sa.select(webinars.c.seats_taken)).scalar_one() == 2
        touches = conn.execute(
            sa.select(sa.func.count()).where(touchpoints.c.touch_type == "webinar_registered")
        ).scalar_one()
    assert touches == 4


def test_cancel_hands_the_seat_to_the_first_waitlisted(engine, tmp_path):
    regs.sync_webinars(engine, [_webinar(tmp_path, 1)], AT)
    a, b, c = _leads(engine, 3)
    first = regs.register(engine, "rp", a, "form", AT)
    regs.register(engine, "rp", c, "form", AT + timedelta(seconds=2))  # arrives later than b...
    regs.register(engine, "rp", b, "form", AT + timedelta(seconds=1))  # ...but registered_at is earlier
    cancelled, promoted = regs.cancel(engine, first.id, AT + timedelta(hours=1))
    assert cancelled and promoted == [b]
    assert _statuses(engine) == {a: "cancelled", b: "registered", c: "waitlisted"}
    assert regs.cancel(engine, first.id, AT + timedelta(hours=2)) == (False, [])  # twice: nothing more
    with engine.connect() as conn:
        assert conn.execute(sa.select(webinars.c.seats_taken)).scalar_one() == 1


def test_a_raised_capacity_promotes_and_a_lowered_one_keeps_held_seats(engine, tmp_path):
    regs.sync_webinars(engine, [_webinar(tmp_path, 1)], AT)
    a, b, c = _leads(engine, 3)
    for i, lead in enumerate((a, b, c)):
        regs.register(engine, "rp", lead, "form", AT + timedelta(seconds=i))
    [change] = regs.sync_webinars(engine, [_webinar(tmp_path, 2)], AT + timedelta(hours=1))
    assert change.change == "updated" and change.sequence == 0
    assert _statuses(engine) == {a: "registered", b: "registered", c: "waitlisted"}
    regs.sync_webinars(engine, [_webinar(tmp_path, 1)], AT + timedelta(hours=2))
    with engine.connect() as conn:
        assert conn.execute(sa.select(webinars.c.capacity, webinars.c.seats_taken)).one() == (2, 2)


def test_reschedule_and_cancel_bump_the_sequence(engine, tmp_path):
    regs.sync_webinars(engine, [_webinar(tmp_path, 5)], AT)
    assert regs.sync_webinars(engine, [_webinar(tmp_path, 5)], AT)[0].change == "unchanged"
    moved = _webinar(tmp_path, 5)
    moved.path.write_text(FILE.format(capacity=5).replace("16:00", "17:00"))
    assert regs.sync_webinars(engine, [load_webinar(moved.path)], AT)[0] == regs.WebinarChange(
        "rp", "rescheduled", 1
    )
    moved.path.write_text(FILE.format(capacity=5).replace("16:00", "17:00") + "cancelled: true\n")
    assert regs.sync_webinars(engine, [load_webinar(moved.path)], AT)[0] == regs.WebinarChange(
        "rp", "cancelled", 2
    )
    [lead] = _leads(engine, 1)
    with pytest.raises(regs.WebinarClosed):
        regs.register(engine, "rp", lead, "form", AT)


def test_concurrent_registrations_never_exceed_capacity(engine, tmp_path):
    capacity, people = 7, 40
    regs.sync_webinars(engine, [_webinar(tmp_path, capacity)], AT)
    lead_ids = _leads(engine, people)
    barrier = threading.Barrier(20)
    errors: list[BaseException] = []

    def worker(chunk: list[int]) -> None:
        try:
            barrier.wait()
            for lead in chunk:
                regs.register(engine, "rp", lead, "form", AT)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(lead_ids[i::20],)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    statuses = list(_statuses(engine).values())
    assert statuses.count("registered") == capacity
    assert statuses.count("waitlisted") == people - capacity
    with engine.connect() as conn:
        assert conn.execute(sa.select(webinars.c.seats_taken)).scalar_one() == capacity


def test_the_database_refuses_an_overbooking_write(engine, tmp_path):
    regs.sync_webinars(engine, [_webinar(tmp_path, 1)], AT)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.update(webinars).values(seats_taken=2))


def test_attendance_marks_attended_no_show_and_absent_registrants(engine, tmp_path):
    regs.sync_webinars(engine, [_webinar(tmp_path, 10)], AT)
    a, b, c, d = _leads(engine, 4)
    for lead in (a, b, c):
        regs.register(engine, "rp", lead, "form", AT)
    joined = datetime(2026, 12, 10, 15, 1, tzinfo=UTC)
    minutes = {a: (45, joined), b: (5, joined), d: (30, joined)}  # c never came; d never registered
    first = regs.record_attendance(engine, "rp", minutes, min_minutes=10, at=AT + timedelta(days=10))
    again = regs.record_attendance(engine, "rp", minutes, min_minutes=10, at=AT + timedelta(days=10))
    assert (first.attended, first.no_show) == (2, 2)
    assert (again.attended, again.no_show) == (2, 1)  # c is already no_show; rows unchanged
    assert _statuses(engine) == {a: "attended", b: "no_show", c: "no_show", d: "attended"}
    with engine.connect() as conn:
        kinds = conn.execute(
            sa.select(touchpoints.c.lead_id, touchpoints.c.touch_type, touchpoints.c.detail)
            .where(touchpoints.c.touch_type.in_(["webinar_attended", "webinar_no_show"]))
            .order_by(touchpoints.c.lead_id)
        ).all()
    assert [(lead, kind) for lead, kind, _ in kinds] == [
        (a, "webinar_attended"),
        (b, "webinar_no_show"),
        (c, "webinar_no_show"),
        (d, "webinar_attended"),
    ]
    assert kinds[0].detail == {"minutes": 45}


def _statements(engine):
    """The statements ``engine`` runs while the block runs (a list filled as they go)."""
    from contextlib import contextmanager

    @contextmanager
    def counting():
        seen: list[str] = []

        def count(conn, cursor, statement, *args):
            seen.append(statement)

        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            yield seen
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)

    return counting()


def test_a_one_click_registration_is_one_statement_on_postgresql(engine, tmp_path):
    regs.sync_webinars(engine, [_webinar(tmp_path, 1)], AT)
    first, second = _leads(engine, 2)
    with _statements(engine) as seen:
        assert regs.register_invited(engine, "rp", first, "invitation", AT) == "registered"
    if engine.dialect.name == "postgresql":  # seat, registration and touch in one round trip
        assert len(seen) == 1 and seen[0].lstrip().startswith("-- A new registration")
    assert regs.register_invited(engine, "rp", second, "invitation", AT) == "waitlisted"
    assert regs.register_invited(engine, "rp", first, "invitation", AT) == "registered"  # again: the same
    with engine.connect() as conn:
        touches = conn.execute(
            sa.select(touchpoints.c.lead_id, touchpoints.c.detail, touchpoints.c.source_ref)
            .where(touchpoints.c.touch_type == "webinar_registered")
            .order_by(touchpoints.c.lead_id)
        ).all()
        seats = conn.execute(sa.select(webinars.c.seats_taken)).scalar_one()
    assert seats == 1 and _statuses(engine) == {first: "registered", second: "waitlisted"}
    assert [tuple(t) for t in touches] == [
        (first, {"status": "registered", "source": "invitation"}, f"webinar:rp:webinar_registered:{first}"),
        (second, {"status": "waitlisted", "source": "invitation"}, f"webinar:rp:webinar_registered:{second}"),
    ]


def test_one_click_for_merged_erased_unknown_leads_and_a_closed_webinar(engine, tmp_path):
    regs.sync_webinars(engine, [_webinar(tmp_path, 5)], AT)
    survivor, merged, erased = _leads(engine, 3)
    with engine.begin() as conn:
        conn.execute(sa.update(leads).where(leads.c.id == merged).values(merged_into_id=survivor))
        conn.execute(sa.update(leads).where(leads.c.id == erased).values(erased_at=AT))
    assert regs.register_invited(engine, "rp", merged, "invitation", AT) == "registered"
    assert regs.register_invited(engine, "rp", erased, "invitation", AT) == "invalid"
    assert regs.register_invited(engine, "rp", 10**9, "invitation", AT) == "invalid"
    assert regs.register_invited(engine, "rp", survivor, "invitation", AT + timedelta(days=30)) == "closed"
    assert regs.register_invited(engine, "no-such", survivor, "invitation", AT) == "closed"
    assert _statuses(engine) == {survivor: "registered"}
    with engine.connect() as conn:
        assert conn.execute(sa.select(webinars.c.seats_taken)).scalar_one() == 1


def test_the_same_people_pressing_twice_at_once_take_one_seat_each(engine, tmp_path):
    capacity, people = 5, 12
    regs.sync_webinars(engine, [_webinar(tmp_path, capacity)], AT)
    lead_ids = _leads(engine, people)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker(chunk: list[int]) -> None:
        try:
            barrier.wait()
            for lead in chunk:
                regs.register_invited(engine, "rp", lead, "invitation", AT)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    # Every person is in two threads' chunks: each presses Register twice, at about the same time.
    chunks = [lead_ids[i::4] for i in range(4)] * 2
    threads = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    statuses = _statuses(engine)
    assert len(statuses) == people
    assert list(statuses.values()).count("registered") == capacity
    with engine.connect() as conn:
        assert conn.execute(sa.select(webinars.c.seats_taken)).scalar_one() == capacity
        touches = conn.execute(
            sa.select(sa.func.count()).where(touchpoints.c.touch_type == "webinar_registered")
        ).scalar_one()
    assert touches == people
