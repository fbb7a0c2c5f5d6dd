"""ISO weeks in the report time zone: Monday 00:00 (included) to the next Monday 00:00 (excluded).

A week's bounds are computed here, in Python, from its ISO name and ``FUNNELFLOW_REPORT_TZ``,
and bound into the SQL as UTC instants; a week that crosses a daylight-saving change is
167 or 169 hours long, as the calendar says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from funnelflow import settings

_ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


class BadWeek(ValueError):
    """A week name or time zone that cannot be used; the message says what to write instead."""


def report_timezone(name: str | None = None) -> ZoneInfo:
    """The report time zone: ``name``, else FUNNELFLOW_REPORT_TZ, else UTC."""
    raw = name or settings.env("FUNNELFLOW_REPORT_TZ", "UTC") or "UTC"
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadWeek(
            f"FUNNELFLOW_REPORT_TZ {raw!r} is not a time zone; use an IANA name like Europe/Berlin or UTC"
        ) from None


@dataclass(frozen=True)
class Week:
    """One ISO week in one time zone."""

    start: date  # the Monday
    tz: ZoneInfo

    @classmethod
    def parse(cls, text: str, tz: ZoneInfo | None = None) -> Week:
        """``2026-W48`` -> that week; anything else is a BadWeek naming the expected form."""
        match = _ISO_WEEK.match(text.strip())
        if not match:
            raise BadWeek(f"week {text!r} must look like 2026-W48 (ISO year, W, two-digit week)")
        year, number = int(match.group(1)), int(match.group(2))
        try:
            monday = date.fromisocalendar(year, number, 1)
        except ValueError:
            raise BadWeek(
                f"week {text!r} does not exist: {year} has weeks 01 to {_weeks_in(year):02d}"
            ) from None
        return cls(monday, tz or report_timezone())

    @classmethod
    def containing(cls, moment: datetime, tz: ZoneInfo | None = None) -> Week:
        """The week that ``moment`` (aware) falls in, in the report time zone."""
        zone = tz or report_timezone()
        local = moment.astimezone(zone).date()
        return cls(local - timedelta(days=local.weekday()), zone)

    @classmethod
    def before(cls, moment: datetime, tz: ZoneInfo | None = None) -> Week:
        """The last whole week before ``moment``: for a run on Monday 06:00, the week that just ended."""
        return cls.containing(moment, tz).shift(-1)

    def shift(self, weeks: int) -> Week:
        return Week(self.start + timedelta(weeks=weeks), self.tz)

    @property
    def iso(self) -> str:
        year, number, _ = self.start.isocalendar()
        return f"{year}-W{number:02d}"

    @property
    def starts_at(self) -> datetime:
        """Monday 00:00 in the report time zone, as a UTC instant."""
        return datetime.combine(self.start, time(0), tzinfo=self.tz).astimezone(UTC)

    @property
    def ends_at(self) -> datetime:
        """The next Monday 00:00 in the report time zone, as a UTC instant (excluded)."""
        return datetime.combine(self.start + timedelta(days=7), time(0), tzinfo=self.tz).astimezone(UTC)

    def __str__(self) -> str:
        return self.iso


def _weeks_in(year: int) -> int:
    return date(year, 12, 28).isocalendar()[1]


def weeks_between(first: Week, last: Week) -> list[Week]:
    """Every week from ``first`` to ``last``, both included."""
    if last.start < first.start:
        raise BadWeek(f"--from {first} comes after --to {last}")
    count = (last.start - first.start).days // 7
    return [first.shift(i) for i in range(count + 1)]
