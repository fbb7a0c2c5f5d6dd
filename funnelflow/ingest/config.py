"""Marketing-ops configuration of lead sources and header aliases, validated with pydantic.

``config/sources.yaml`` names each source (which file names belong to it, the
campaign its contacts belong to, the consent basis of its contacts; the web form;
the ad platforms);
``config/header_mapping.yaml`` adds header aliases on top of the built-in ones.
A wrong file raises ``ConfigError`` naming the file, the line and the fix.
"""

from __future__ import annotations

import fnmatch
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from funnelflow import settings
from funnelflow.yaml_config import ConfigFileError, parse_yaml_model

SOURCES_FILE = "sources.yaml"
HEADER_MAPPING_FILE = "header_mapping.yaml"
LEGAL_BASES = ("consent", "legitimate_interest", "contract")
M = TypeVar("M", bound=BaseModel)
WEB_FORM_SOURCE = "web_form"  # lead_landing.source of web-form posts
WEBINAR_SOURCE = "webinar"  # lead_landing.source of webinar registration forms
FORM_SOURCES = (WEB_FORM_SOURCE, WEBINAR_SOURCE)  # posted by a person: double opt-in, double-click window
# A campaign is named by one slug everywhere: touchpoints.campaign, email_sends.campaign_id and
# config/campaigns/<slug>.yaml. Lower-case words joined by hyphens: "spring-launch-2026".
CAMPAIGN_SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class ConfigError(ConfigFileError):
    """A marketing-ops config file is wrong; the message names file, line and fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConsentDefault(_Strict):
    status: Literal["pending", "granted", "denied"] = "granted"
    legal_basis: Literal["consent", "legitimate_interest", "contract"]


class FileSource(_Strict):
    name: str = Field(min_length=1, max_length=120, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    match: list[str] = Field(min_length=1, description="file-name patterns (fnmatch, case-insensitive)")
    # The slug of the campaign (marketing initiative) every contact of this source belongs to; not a label
    # of the source (its name is that). Leave it out when the files do not belong to one campaign.
    campaign: str | None = Field(default=None, max_length=120, pattern=CAMPAIGN_SLUG)
    consent: ConsentDefault | None = None
    # The slug of a webinar (config/webinars/<slug>.yaml): the files are its attendee reports
    # (Zoom, GoToWebinar, Teams exports), which mark attendance instead of importing a list.
    webinar: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,119}$")

    @field_validator("match", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class WebFormSource(_Strict):
    consent_wording_version: str = Field(min_length=1, max_length=60)
    duplicate_window_minutes: int = Field(default=60, ge=0, le=24 * 60)


class AdPlatformSource(_Strict):
    name: str = Field(min_length=1, max_length=120, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    conn_id: str = Field(min_length=1)
    form_id: str = Field(min_length=1)
    campaign: str | None = Field(default=None, max_length=120, pattern=CAMPAIGN_SLUG)  # the campaign's slug
    page_size: int = Field(default=100, ge=1, le=1000)
    consent: ConsentDefault | None = None


class SourcesConfig(_Strict):
    web_form: WebFormSource
    files: list[FileSource] = Field(default_factory=list)
    ad_platforms: list[AdPlatformSource] = Field(default_factory=list)

    def file_source_for(self, file_name: str) -> FileSource | None:
        """The first file source whose pattern matches the name (case-insensitive), else None."""
        lowered = file_name.lower()
        for source in self.files:
            if any(fnmatch.fnmatchcase(lowered, pattern.lower()) for pattern in source.match):
                return source
        return None

    def source_named(self, name: str) -> FileSource | AdPlatformSource | WebFormSource | None:
        if name == WEB_FORM_SOURCE:
            return self.web_form
        for source in [*self.files, *self.ad_platforms]:
            if source.name == name:
                return source
        return None


class HeaderMappingConfig(_Strict):
    # canonical field -> extra header spellings, e.g. email: ["Correo electrónico"]
    aliases: dict[str, list[str]] = Field(default_factory=dict)
    ignore: list[str] = Field(default_factory=list, description="headers known and deliberately not imported")

    @field_validator("aliases")
    @classmethod
    def _known_fields(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        from funnelflow.ingest.mapping import CANONICAL_FIELDS

        unknown = sorted(set(value) - set(CANONICAL_FIELDS))
        if unknown:
            raise ValueError(f"unknown field(s) {unknown}; use one of {list(CANONICAL_FIELDS)}")
        return value

    @cached_property
    def extra_aliases(self) -> dict[str, str]:
        return {alias: field for field, aliases in self.aliases.items() for alias in aliases}


def load_yaml_model(path: Path, model: type[M]) -> M:
    """Parse and validate one YAML config file; every problem names file, line and fix."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: file not found; create it (see docs/ingestion.md for an example)"
        ) from None
    return parse_yaml_model(text, str(path), model, ConfigError, example="docs/ingestion.md")[0]


def load_sources(config_dir: Path | None = None) -> SourcesConfig:
    return load_yaml_model((config_dir or settings.config_dir()) / SOURCES_FILE, SourcesConfig)


def load_header_mapping(config_dir: Path | None = None) -> HeaderMappingConfig:
    path = (config_dir or settings.config_dir()) / HEADER_MAPPING_FILE
    if not path.exists():
        return HeaderMappingConfig()
    return load_yaml_model(path, HeaderMappingConfig)
