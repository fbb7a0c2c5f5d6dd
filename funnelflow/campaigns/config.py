"""Campaign files: ``config/campaigns/<slug>.yaml``, validated; a mistake names the file, the line and the
fix.

The slug is the file name. The Markdown the campaign sends sits beside it
(``content.markdown`` is relative to the file's folder). Loading imports no
SQLAlchemy and opens no database, so the DAG factory can validate every file
when Airflow parses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from funnelflow import settings
from funnelflow.segments import Condition, Segment
from funnelflow.yaml_config import ConfigFileError, parse_yaml_model

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
EXAMPLE = "README.md, 'Adding a campaign'"
# What a subject line may name: per-person values every campaign send carries.
SUBJECT_VARIABLES = frozenset({"first_name"})


class CampaignError(ConfigFileError):
    """A campaign file is wrong; one line per problem, each with file, line and fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Schedule(_Strict):
    cron: str | None = None
    once: datetime | None = None
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}; use an IANA name such as Europe/Berlin") from None
        return v

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None:
            from croniter import croniter

            if not croniter.is_valid(v):
                raise ValueError(f"{v!r} is not a cron expression; write five fields, e.g. '0 9 * * TUE'")
        return v

    @field_validator("once")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("once needs a UTC offset, e.g. 2026-12-08T09:00:00+01:00")
        return v

    @model_validator(mode="after")
    def _one_of(self) -> Schedule:
        if (self.cron is None) == (self.once is None):
            raise ValueError("give exactly one of cron or once")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class SendWindow(_Strict):
    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> SendWindow:
        if self.start >= self.end:
            raise ValueError("start must be before end (a window within one local day)")
        return self


class Content(_Strict):
    template: Literal["newsletter"] = "newsletter"
    markdown: str = Field(min_length=1)


class Subjects(_Strict):
    a: str = Field(min_length=1, max_length=200)
    b: str = Field(min_length=1, max_length=200)


class ABTest(_Strict):
    share: float = Field(gt=0, le=0.5)  # of the sendable audience, split evenly between a and b
    wait_hours: float = Field(gt=0, le=24 * 14)
    metric: Literal["opens", "clicks"] = "clicks"
    min_per_variant: int = Field(default=100, ge=1)


class Offer(_Strict):
    url: str = Field(pattern=r"^https?://")
    expires_at: datetime
    limit: int = Field(ge=1)

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("expires_at needs a UTC offset, e.g. 2026-12-31T23:59:00+01:00")
        return v


class CampaignFile(_Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    kind: Literal["newsletter"] = "newsletter"
    schedule: Schedule
    send_window: SendWindow | None = None
    audience: Segment
    exclude: list[Condition] = Field(default_factory=list)
    content: Content
    subject: str | Subjects
    ab_test: ABTest | None = None
    offer: Offer | None = None
    test_recipients: list[str] = Field(default_factory=list)

    @field_validator("subject")
    @classmethod
    def _subject_names(cls, v: str | Subjects) -> str | Subjects:
        for text in [v] if isinstance(v, str) else [v.a, v.b]:
            _check_subject(text)
        return v

    @field_validator("test_recipients")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        bad = [i for i, a in enumerate(v) if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", a)]
        if bad:
            raise ValueError(f"entry {bad[0] + 1} is not an email address")
        return v

    @model_validator(mode="after")
    def _ab_needs_variants(self) -> CampaignFile:
        if self.ab_test is not None and isinstance(self.subject, str):
            raise ValueError("ab_test needs two subjects: subject: {a: ..., b: ...}")
        if self.ab_test is None and isinstance(self.subject, Subjects):
            raise ValueError("two subjects need an ab_test: {share, wait_hours, metric, min_per_variant}")
        return self


def _check_subject(text: str) -> None:
    import jinja2
    from jinja2 import meta

    try:
        names = meta.find_undeclared_variables(jinja2.Environment().parse(text))
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"subject is not a valid template ({exc.message})") from None
    unknown = sorted(names - SUBJECT_VARIABLES)
    if unknown:
        raise ValueError(f"subject names {unknown}; a subject may use only {sorted(SUBJECT_VARIABLES)}")


@dataclass(frozen=True)
class Campaign:
    """A validated campaign file: its slug, where it lives, and what it says."""

    slug: str
    path: Path
    spec: CampaignFile

    @property
    def variants(self) -> tuple[str, ...]:
        return ("a", "b") if isinstance(self.spec.subject, Subjects) else ("a",)

    def subject_of(self, variant: str) -> str:
        s = self.spec.subject
        return s if isinstance(s, str) else getattr(s, variant)

    @property
    def markdown_path(self) -> Path:
        return self.path.parent / self.spec.content.markdown

    @property
    def exclusion(self) -> Segment:
        """The audience with the ``exclude`` conditions added to ``none``."""
        a = self.spec.audience
        return Segment(all=a.all, any=a.any, none=[*a.none, *self.spec.exclude])


def campaigns_dir() -> Path:
    return settings.config_dir() / "campaigns"


def _where(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(settings.REPO_ROOT))
    except ValueError:
        return str(path)


def load_campaign(path: Path) -> Campaign:
    """Validate one campaign file (and that its Markdown exists); ``CampaignError`` names file, line, fix."""
    where = _where(path)
    slug = path.stem
    if not SLUG.match(slug):
        raise CampaignError(
            f"{where}, line 1: the file name {slug!r} is the campaign's slug; "
            "fix: rename it with lower-case letters, digits and '-'"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CampaignError(
            f"{where}, line 1: cannot be read ({exc.strerror}); fix: check the file"
        ) from None
    spec, node = parse_yaml_model(text, where, CampaignFile, CampaignError, EXAMPLE)
    campaign = Campaign(slug=slug, path=path, spec=spec)
    if not campaign.markdown_path.is_file():
        from funnelflow.yaml_config import line_of

        raise CampaignError(
            f"{where}, line {line_of(node, ('content', 'markdown'))}: content.markdown: "
            f"{spec.content.markdown!r} not found beside the campaign file; fix: add it or correct the path"
        )
    return campaign


def campaign_files(folder: Path | None = None) -> list[Path]:
    folder = folder or campaigns_dir()
    return sorted(p for p in folder.glob("*.yaml") if p.is_file())


def load_all(folder: Path | None = None) -> tuple[list[Campaign], dict[str, str]]:
    """Every campaign in the folder: the valid ones, and ``{slug: error}`` for the rest (never hides them)."""
    good: list[Campaign] = []
    bad: dict[str, str] = {}
    for path in campaign_files(folder):
        try:
            good.append(load_campaign(path))
        except CampaignError as exc:
            bad[path.stem] = str(exc)
    return good, bad


def find_campaign(slug: str, folder: Path | None = None) -> Campaign:
    path = (folder or campaigns_dir()) / f"{slug}.yaml"
    if not SLUG.match(slug) or not path.is_file():
        raise CampaignError(f"no campaign {slug!r}: expected {_where(path)}")
    return load_campaign(path)


def next_send_time(campaign: Campaign, at: datetime) -> datetime:
    """``at`` if it falls in the campaign's send window (local to its schedule's zone), else the window's
    next start."""
    from datetime import timedelta

    window = campaign.spec.send_window
    if window is None:
        return at
    zone = campaign.spec.schedule.zone
    local = at.astimezone(zone)
    if window.start <= local.time().replace(tzinfo=None) < window.end:
        return at
    day = (
        local.date() if local.time().replace(tzinfo=None) < window.start else local.date() + timedelta(days=1)
    )
    return datetime.combine(day, window.start, tzinfo=zone).astimezone(at.tzinfo)


def send_plan(campaign: Campaign, as_of: datetime, wait_hours: float | None = None) -> dict[str, str]:
    """When the run sends and, with an A/B test, when it decides: fixed by the run's time, so a rerun waits
    the same."""
    from datetime import timedelta

    send_at = next_send_time(campaign, as_of)
    plan = {"send_at": send_at.isoformat()}
    ab = campaign.spec.ab_test
    if ab is not None:
        hours = ab.wait_hours if wait_hours is None else wait_hours
        plan["decide_at"] = next_send_time(campaign, send_at + timedelta(hours=hours)).isoformat()
    return plan
