"""The sales team file, ``config/sales_team.yaml``: reps, teams, business hours, SLAs and routing steps.

Sales ops own the file. It is validated with pydantic like the other config
files, and every problem names the file, the line and the fix
(``funnelflow.yaml_config``); the checks that span keys (a rep's team exists, a
manager is a rep, a calendar has holidays) name the line of the offending value.
"""

from __future__ import annotations

import functools
from datetime import date, time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from funnelflow import settings
from funnelflow.yaml_config import ConfigFileError, line_of, parse_yaml_model

TEAM_FILE = "sales_team.yaml"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
GRADES = ("A", "B", "C", "D")
ROUTING_STEPS = ("account_owner", "country_segment_industry", "country_segment", "country", "any")
Slug = Field(min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_.-]*$")


@functools.lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    # ZoneInfo keeps few zones alive; routing asks for each rep's zone per lead and per lookup.
    return ZoneInfo(name)


class SalesTeamError(ConfigFileError):
    """The team file is wrong; the message names file, line and fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def _clock(value: str) -> time:
    try:
        hh, mm = value.split(":")
        return time(int(hh), int(mm))
    except ValueError:
        raise ValueError(f'{value!r} is not a time of day; write it as "HH:MM", e.g. "09:00"') from None


class BusinessHours(_Strict):
    start: str
    end: str
    days: list[Literal[DAYS]] = Field(min_length=1)  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _order(self) -> BusinessHours:
        if _clock(self.start) >= _clock(self.end):
            raise ValueError(f"start {self.start} must be before end {self.end}")
        return self

    @property
    def opens(self) -> time:
        return _clock(self.start)

    @property
    def closes(self) -> time:
        return _clock(self.end)

    @property
    def weekdays(self) -> frozenset[int]:
        return frozenset(DAYS.index(d) for d in self.days)


class Absence(_Strict):
    from_: date = Field(alias="from")
    to: date  # inclusive

    @model_validator(mode="after")
    def _order(self) -> Absence:
        if self.to < self.from_:
            raise ValueError(f"`to` {self.to} is before `from` {self.from_}")
        return self


class Team(_Strict):
    name: str = Slug
    manager: str = Slug


class Rep(_Strict):
    id: str = Slug
    name: str = Field(min_length=1, max_length=120)
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    team: str = Slug
    timezone: str
    calendar: str | None = None
    countries: list[str] = Field(default_factory=list)
    segments: list[str] = Field(default_factory=list)
    industries: list[str] = Field(default_factory=list)
    capacity: int = Field(ge=0, le=100_000)
    out_of_office: list[Absence] = Field(default_factory=list)
    active: bool = True

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin") from None
        return value

    @field_validator("countries")
    @classmethod
    def _countries(cls, values: list[str]) -> list[str]:
        bad = [v for v in values if len(v) != 2 or not v.isalpha()]
        if bad:
            raise ValueError(f"{bad} are not two-letter country codes (ISO 3166-1, e.g. DE)")
        return [v.upper() for v in values]

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)

    def away_on(self, day: date) -> bool:
        return any(a.from_ <= day <= a.to for a in self.out_of_office)


class Retention(_Strict):
    check_in_days: list[int] = Field(default_factory=lambda: [30, 90])
    renewal_days_before: int = Field(default=60, ge=1, le=730)
    upsell_engagement_rise: float = Field(default=20, gt=0)
    upsell_pages: list[str] = Field(default_factory=lambda: ["/pricing", "/demo"])


class SalesTeam(_Strict):
    business_hours: BusinessHours
    holidays: dict[str, list[date]] = Field(default_factory=dict)
    sla_business_hours: dict[Literal[GRADES], float]  # type: ignore[valid-type]
    reassign_after_business_hours: float = Field(gt=0, le=1000)
    recycle_cooldown_days: int = Field(ge=0, le=3650)
    segments: dict[str, list[str]] = Field(default_factory=dict)
    inbound_team: str | None = None
    retention: Retention = Field(default_factory=Retention)
    teams: list[Team] = Field(min_length=1)
    reps: list[Rep] = Field(min_length=1)
    routing: list[Literal[ROUTING_STEPS]] = Field(min_length=1)  # type: ignore[valid-type]

    @field_validator("sla_business_hours")
    @classmethod
    def _every_grade(cls, value: dict[str, float]) -> dict[str, float]:
        missing = [g for g in GRADES if g not in value]
        if missing:
            raise ValueError(f"no SLA for grade(s) {missing}; give hours for each of A, B, C and D")
        bad = [g for g, h in value.items() if not 0 < h <= 1000]
        if bad:
            raise ValueError(f"SLA hours of {bad} must be above 0 and at most 1000")
        return value

    def rep(self, rep_id: str) -> Rep | None:
        return next((r for r in self.reps if r.id == rep_id), None)

    def team(self, name: str) -> Team | None:
        return next((t for t in self.teams if t.name == name), None)

    def segment_of(self, employee_band: str | None) -> str | None:
        """The segment name whose bands include this employee band (case-insensitive), or None."""
        if not employee_band:
            return None
        band = employee_band.strip().lower()
        for name, bands in self.segments.items():
            if band in (b.lower() for b in bands):
                return name
        return None

    def holidays_of(self, rep: Rep) -> frozenset[date]:
        return frozenset(self.holidays.get(rep.calendar, ())) if rep.calendar else frozenset()


def _cross_checks(team: SalesTeam, node, where: str) -> list[str]:
    """Rules that span keys; each problem names the line of the value at fault."""
    problems: list[str] = []

    def bad(loc: tuple, msg: str, fix: str) -> None:
        problems.append(f"{where}, line {line_of(node, loc)}: {'.'.join(map(str, loc))}: {msg}; fix: {fix}")

    team_names = [t.name for t in team.teams]
    rep_ids = [r.id for r in team.reps]
    for i, name in enumerate(team_names):
        if team_names.index(name) != i:
            bad(("teams", i, "name"), f"the team {name!r} is listed twice", "give each team its own name")
    for i, rep_id in enumerate(rep_ids):
        if rep_ids.index(rep_id) != i:
            bad(("reps", i, "id"), f"the rep id {rep_id!r} is used twice", "give each rep their own id")
    for i, t in enumerate(team.teams):
        if t.manager not in rep_ids:
            bad(("teams", i, "manager"), f"{t.manager!r} is not a rep id", f"use one of {rep_ids}")
    seen_bands: dict[str, str] = {}
    for name, bands in team.segments.items():
        for band in bands:
            other = seen_bands.setdefault(band.lower(), name)
            if other != name:
                bad(("segments", name), f"band {band!r} is in {other!r} too", "put each band in one segment")
    if team.inbound_team is not None and team.inbound_team not in team_names:
        bad(("inbound_team",), f"{team.inbound_team!r} is not a team", f"use one of {team_names}")
    for i, rep in enumerate(team.reps):
        if rep.team not in team_names:
            bad(
                ("reps", i, "team"), f"{rep.team!r} is not a team", f"use one of {team_names} or add the team"
            )
        if rep.calendar is not None and rep.calendar not in team.holidays:
            bad(
                ("reps", i, "calendar"),
                f"no holidays are listed for calendar {rep.calendar!r}",
                f"use one of {sorted(team.holidays)} or add it under holidays",
            )
        unknown = [s for s in rep.segments if s not in team.segments]
        if unknown:
            bad(
                ("reps", i, "segments"), f"{unknown} are not segments", f"use some of {sorted(team.segments)}"
            )
    if len(set(team.routing)) != len(team.routing):
        bad(("routing",), "a step is listed twice", "list each step once")
    return problems


def team_from_text(text: str, where: str = TEAM_FILE) -> SalesTeam:
    team, node = parse_yaml_model(text, where, SalesTeam, SalesTeamError, example="README.md (Adding a rep)")
    problems = _cross_checks(team, node, where)
    if problems:
        raise SalesTeamError("\n".join(problems))
    return team


def team_path(config_dir: Path | None = None) -> Path:
    return (config_dir or settings.config_dir()) / TEAM_FILE


def load_team(path: Path | None = None) -> SalesTeam:
    """Load and validate the team file (default: FUNNELFLOW_CONFIG_DIR/sales_team.yaml)."""
    path = path or team_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SalesTeamError(
            f"{path}, line 1: file not found; fix: create it (see README, Adding a rep)"
        ) from None
    return team_from_text(text, str(path))
