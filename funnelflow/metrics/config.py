"""``config/reports.yaml``: who gets the weekly funnel report (validated; errors name file, line and fix)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from funnelflow import settings
from funnelflow.yaml_config import ConfigFileError, parse_yaml_model

FILE_NAME = "reports.yaml"


class Stakeholder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    email: EmailStr


class WeeklyFunnelReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stakeholders: list[Stakeholder] = Field(min_length=1)


class ReportsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1)
    weekly_funnel_report: WeeklyFunnelReport


def load_reports_config(path: Path | None = None) -> ReportsConfig:
    """Read and validate ``config/reports.yaml`` (FUNNELFLOW_CONFIG_DIR)."""
    path = path or settings.config_dir() / FILE_NAME
    where = f"config/{path.name}" if path.parent == settings.config_dir() else str(path)
    if not path.is_file():
        raise ConfigFileError(
            f"{where}, line 1: the file is missing; fix: create it from README.md, Funnel metrics"
        )
    config, _ = parse_yaml_model(
        path.read_text(encoding="utf-8"), where, ReportsConfig, example="README.md (Funnel metrics)"
    )
    return config
