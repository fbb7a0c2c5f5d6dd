"""Webinar files: ``config/webinars/<slug>.yaml``, one per event, owned by marketing ops.

Validated with pydantic like every marketing file: a mistake names the file, the
line and the fix. ``starts_at`` is the local wall-clock time in ``timezone`` (an IANA
name), so a webinar at 16:00 Berlin stays at 16:00 Berlin across a daylight-saving
change; the UTC instants are computed here, once.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from funnelflow import settings
from funnelflow.segments import Segment
from funnelflow.yaml_config import ConfigFileError, parse_yaml_model

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,119}$"


class WebinarConfigError(ConfigFileError):
    """A webinar file is wrong; the message names file, line and fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Invitations(_Strict):
    # A segment in the campaign files' language (funnelflow.segments): checked with the file.
    audience: Segment
    waves: list[datetime] = Field(default_factory=list, description="local times in the webinar's zone")


class PlatformLink(_Strict):
    # The Airflow HTTP connection of the webinar platform (host = API base URL, password = token).
    conn_id: str = Field(min_length=1, max_length=250)
    webinar_id: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9_-]+$")


class WebinarFile(_Strict):
    title: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=4000)
    starts_at: datetime = Field(description="local time in `timezone`, without an offset")
    timezone: str
    duration_minutes: int = Field(ge=5, le=24 * 60)
    join_url: HttpUrl
    capacity: int = Field(ge=1, le=1_000_000)
    host: str = Field(min_length=1, max_length=255)
    recording_url: HttpUrl | None = None
    invitations: Invitations | None = None
    attended_min_minutes: int = Field(default=10, ge=0, le=24 * 60)
    platform: PlatformLink | None = None  # attendance from the platform's API once the webinar ends
    cancelled: bool = False

    @field_validator("timezone")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Berlin") from None
        return value

    @field_validator("starts_at")
    @classmethod
    def _local_time(cls, value: datetime) -> datetime:
        if value.tzinfo is not None:
            raise ValueError("write the local time without an offset; the zone comes from `timezone`")
        return value

    @model_validator(mode="after")
    def _waves_before_start(self) -> WebinarFile:
        if self.invitations:
            for wave in self.invitations.waves:
                if wave.tzinfo is not None:
                    raise ValueError("invitations.waves: write local times without an offset")
                if wave >= self.starts_at:
                    raise ValueError(
                        f"invitations.waves: {wave:%Y-%m-%d %H:%M} is not before the webinar starts"
                    )
        return self


class Webinar(BaseModel):
    """A validated webinar file with its slug and UTC instants."""

    model_config = ConfigDict(frozen=True)

    slug: str
    path: Path
    spec: WebinarFile

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.spec.timezone)

    def local_to_utc(self, local: datetime) -> datetime:
        # fold=0: an ambiguous local time (the hour repeated when clocks go back) is its first occurrence.
        return local.replace(tzinfo=self.zone).astimezone(UTC)

    @property
    def starts_at(self) -> datetime:
        return self.local_to_utc(self.spec.starts_at)

    @property
    def ends_at(self) -> datetime:
        # Wall-clock duration measured in real time: a session over a DST change still lasts its minutes.
        return self.starts_at + timedelta(minutes=self.spec.duration_minutes)

    @property
    def wave_times(self) -> list[datetime]:
        return [self.local_to_utc(w) for w in self.spec.invitations.waves] if self.spec.invitations else []

    @property
    def status(self) -> str:
        return "cancelled" if self.spec.cancelled else "scheduled"

    @property
    def schedule_hash(self) -> str:
        """Changes exactly when registrants need a new calendar file."""
        key = f"{self.starts_at.isoformat()}|{self.ends_at.isoformat()}|{self.status}|{self.spec.join_url}"
        return hashlib.sha256(key.encode()).hexdigest()


def webinars_dir(config_dir: Path | None = None) -> Path:
    return (config_dir or settings.config_dir()) / "webinars"


def load_webinar(path: Path) -> Webinar:
    import re

    slug = path.stem
    if not re.match(SLUG_PATTERN, slug):
        raise WebinarConfigError(
            f"{path}, line 1: the file name {path.name!r} is not a slug; fix: rename it to lower-case "
            "letters, digits and '-', such as retirement-planning-2026-12.yaml"
        )
    text = path.read_text(encoding="utf-8")
    spec, _ = parse_yaml_model(text, str(path), WebinarFile, WebinarConfigError, example="README.md")
    return Webinar(slug=slug, path=path, spec=spec)


def load_webinars(config_dir: Path | None = None) -> tuple[list[Webinar], list[str]]:
    """Every webinar file: the good ones, and one message per broken file (it never hides the rest)."""
    good: list[Webinar] = []
    problems: list[str] = []
    folder = webinars_dir(config_dir)
    for path in sorted(folder.glob("*.yaml")) if folder.exists() else []:
        try:
            good.append(load_webinar(path))
        except WebinarConfigError as exc:
            problems.append(str(exc))
    return good, problems


def webinar_named(slug: str, config_dir: Path | None = None) -> Webinar:
    """The webinar file of ``slug``, parsed once per version of the file (pages ask on every request)."""
    path = webinars_dir(config_dir) / f"{slug}.yaml"
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise WebinarConfigError(
            f"{path}: no such webinar file; fix: check the slug with `webinars list`"
        ) from None
    return _load_cached(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _load_cached(path: Path, mtime_ns: int, size: int) -> Webinar:
    return load_webinar(path)
