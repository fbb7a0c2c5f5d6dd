"""Business-hours arithmetic in a rep's own time zone: when an SLA of N business hours runs out.

The rules, so sales can predict a deadline:

- Business time runs from ``business_hours.start`` to ``end`` on the listed
  weekdays, in the rep's zone, except on the holidays of the rep's calendar (a
  rep with no calendar has no holidays).
- Started outside business time (night, weekend, holiday), the clock starts at
  the next opening.
- A deadline that falls exactly at closing time is that closing time (not the
  next opening).
- Arithmetic is done on UTC instants, so a DST change inside a business day
  lengthens or shortens that day by the real hour, and wall-clock openings stay
  at 09:00 local on both sides of the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_MAX_DAYS = 3660  # ten years of calendar days: a guard against a calendar with no business day at all


@dataclass(frozen=True)
class Calendar:
    """One rep's business time: opening hours, weekdays (0 = Monday), holidays and zone."""

    zone: ZoneInfo
    opens: time
    closes: time
    weekdays: frozenset[int]
    holidays: frozenset[date] = frozenset()

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in self.weekdays and day not in self.holidays

    def window(self, day: date) -> tuple[datetime, datetime]:
        """That day's opening and closing as UTC instants."""
        return (
            datetime.combine(day, self.opens, tzinfo=self.zone).astimezone(UTC),
            datetime.combine(day, self.closes, tzinfo=self.zone).astimezone(UTC),
        )

    def local_day(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()


def to_utc(value: datetime) -> datetime:
    """A plain ``datetime`` in UTC from any aware one (Airflow hands tasks pendulum DateTimes)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("business-hours arithmetic needs a timezone-aware time")
    v = value.astimezone(UTC)
    return datetime(v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond, tzinfo=UTC)


_require_aware = to_utc


def add_business_hours(cal: Calendar, start: datetime, hours: float) -> datetime:
    """The UTC instant when ``hours`` business hours have passed since ``start``."""
    cursor = _require_aware(start)
    remaining = timedelta(hours=hours)
    if remaining < timedelta(0):
        raise ValueError("hours must not be negative")
    day = cal.local_day(cursor)
    for _ in range(_MAX_DAYS):
        if cal.is_business_day(day):
            opening, closing = cal.window(day)
            cursor = max(cursor, opening)
            if cursor < closing or (cursor == closing and not remaining):
                left_today = closing - cursor
                if remaining <= left_today:
                    return cursor + remaining
                remaining -= left_today
                cursor = closing
        day += timedelta(days=1)
    raise ValueError("the calendar has no business time in ten years; check business_hours and holidays")


def business_hours_between(cal: Calendar, start: datetime, end: datetime) -> float:
    """Business hours from ``start`` to ``end`` (0 when end is not after start)."""
    a, b = _require_aware(start), _require_aware(end)
    if b <= a:
        return 0.0
    total = timedelta(0)
    day = cal.local_day(a)
    last = cal.local_day(b)
    while day <= last:
        if cal.is_business_day(day):
            opening, closing = cal.window(day)
            lo, hi = max(a, opening), min(b, closing)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total.total_seconds() / 3600
