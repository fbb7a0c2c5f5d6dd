"""The scoring and lifecycle rules:
marketing's ``config/scoring.yaml`` and sales' ``config/sales_rules.yaml``.

Both files are validated with pydantic. A wrong file raises ``RulesError`` whose
message names the file, the line and the fix (line numbers come from the YAML
node tree, whose marks record where each value was written). The DAG keeps the
last rules that loaded (``pipeline_state``), so a broken edit never stops
scoring: the previous rules keep running, and the version used is recorded in
every lead's ``score_breakdown``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from funnelflow import settings
from funnelflow.db.schema import LIFECYCLE_STAGES, TOUCH_TYPES
from funnelflow.qualify.normalize import DEPARTMENTS, SENIORITIES
from funnelflow.yaml_config import ConfigFileError, line_of, parse_yaml_model

log = logging.getLogger(__name__)

SCORING_FILE = "scoring.yaml"
SALES_RULES_FILE = "sales_rules.yaml"
Slug = Field(min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_]*$")

# What a fit or disqualify rule can test, and where the value lives (see score.py).
TEXT_FIELDS = (
    "seniority",
    "department",
    "industry",
    "employee_band",
    "revenue_band",
    "country",
    "region",
    "email_status",
    "email_domain",
)
FLAG_FIELDS = ("competitor", "email_free", "email_disposable", "email_role")
FIELDS = TEXT_FIELDS + FLAG_FIELDS
KNOWN_VALUES = {"seniority": SENIORITIES, "department": DEPARTMENTS, "email_status": ("valid", "invalid")}
# Stages scoring may move a lead out of; sql, opportunity, customer and disqualified belong to sales.
SCORED_STAGES = ("subscriber", "lead", "mql", "recycled")


class RulesError(ConfigFileError):
    """A rules file is wrong; the message names file, line and fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Condition(_Strict):
    field: Literal[FIELDS]  # type: ignore[valid-type]
    in_: list[str] | None = Field(default=None, alias="in", min_length=1)
    equals: bool | None = None

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        if self.field in FLAG_FIELDS:
            if self.equals is None or self.in_ is not None:
                raise ValueError(f"{self.field} is true or false: write `equals: true` (or false), not `in:`")
        elif self.in_ is None or self.equals is not None:
            raise ValueError(f"{self.field} is a text field: list the values with `in: [...]`")
        known = KNOWN_VALUES.get(self.field)
        if known and self.in_:
            unknown = [v for v in self.in_ if v not in known]
            if unknown:
                raise ValueError(f"unknown {self.field} value(s) {unknown}; use some of {list(known)}")
        return self


class FitRule(Condition):
    name: str = Slug
    points: int = Field(ge=-1000, le=1000)


class Grades(_Strict):
    """The lowest fit score of each grade; anything below C is D."""

    A: int
    B: int
    C: int

    @model_validator(mode="after")
    def _descending(self) -> Grades:
        if not self.A > self.B > self.C:
            raise ValueError(f"grade bars must fall A > B > C, got A={self.A}, B={self.B}, C={self.C}")
        return self


class Fit(_Strict):
    rules: list[FitRule] = Field(min_length=1)
    grades: Grades

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: list[FitRule]) -> list[FitRule]:
        _no_duplicates([r.name for r in rules])
        return rules


class HighIntentPage(_Strict):
    name: str = Slug
    url_contains: str = Field(
        min_length=2, max_length=200, description="part of the page or clicked URL, e.g. /pricing"
    )
    points: float = Field(ge=0, le=1000)
    touch_types: list[Literal[TOUCH_TYPES]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["page_view", "form_fill", "email_click"], min_length=1
    )


class Engagement(_Strict):
    half_life_days: float = Field(gt=0, le=3650)
    points: dict[Literal[TOUCH_TYPES], float] = Field(min_length=1)  # type: ignore[valid-type]
    high_intent_pages: list[HighIntentPage] = Field(default_factory=list)

    @field_validator("high_intent_pages")
    @classmethod
    def _unique(cls, pages: list[HighIntentPage]) -> list[HighIntentPage]:
        _no_duplicates([p.name for p in pages])
        return pages


class Lifecycle(_Strict):
    lead_threshold: float = Field(
        default=1, ge=0, description="a subscriber with this total score becomes a lead"
    )
    mql_threshold: float = Field(gt=0, description="fit + engagement at which a lead becomes an MQL")
    recycle_after_days: int = Field(
        ge=1, le=3650, description="an MQL under the threshold this long is recycled"
    )

    @model_validator(mode="after")
    def _order(self) -> Lifecycle:
        if self.lead_threshold >= self.mql_threshold:
            raise ValueError("lead_threshold must be below mql_threshold")
        return self


class DisqualifyRule(Condition):
    name: str = Slug


class ScoringRules(_Strict):
    version: str = Field(min_length=1, max_length=40)
    fit: Fit
    engagement: Engagement
    lifecycle: Lifecycle
    disqualify: list[DisqualifyRule] = Field(default_factory=list)


class SqlRule(_Strict):
    name: str = Slug
    description: str | None = None
    from_stages: list[Literal[SCORED_STAGES]] = Field(default_factory=lambda: ["mql"], min_length=1)  # type: ignore[valid-type]
    grades: list[Literal["A", "B", "C", "D"]] | None = None
    recent_actions: list[str] = Field(min_length=1, description="names of high_intent_pages in scoring.yaml")
    within_days: int = Field(ge=1, le=365)


class SalesRules(_Strict):
    version: str = Field(min_length=1, max_length=40)
    sql_rules: list[SqlRule] = Field(min_length=1)

    @field_validator("sql_rules")
    @classmethod
    def _unique(cls, rules: list[SqlRule]) -> list[SqlRule]:
        _no_duplicates([r.name for r in rules])
        return rules


def _no_duplicates(names: list[str]) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise ValueError(f"the name {name!r} is used twice; give each rule its own name")
        seen.add(name)


@dataclass(frozen=True)
class Rules:
    """Marketing's and sales' rules together, with the version recorded on every scored lead."""

    scoring: ScoringRules
    sales: SalesRules
    version: str
    scoring_text: str
    sales_text: str

    @property
    def stages(self) -> tuple[str, ...]:
        return LIFECYCLE_STAGES


# --- loading, with file/line/fix errors ---------------------------------------------------


def _parse(text: str, where: str, model: type[BaseModel]) -> tuple[BaseModel, yaml.Node | None]:
    return parse_yaml_model(text, where, model, RulesError, example="docs/qualification.md")


def rules_from_text(
    scoring_text: str,
    sales_text: str,
    *,
    scoring_name: str = SCORING_FILE,
    sales_name: str = SALES_RULES_FILE,
) -> Rules:
    scoring, _ = _parse(scoring_text, scoring_name, ScoringRules)
    sales, sales_node = _parse(sales_text, sales_name, SalesRules)
    pages = {p.name for p in scoring.engagement.high_intent_pages}
    for i, rule in enumerate(sales.sql_rules):
        unknown = [a for a in rule.recent_actions if a not in pages]
        if unknown:
            line = line_of(sales_node, ("sql_rules", i, "recent_actions"))
            raise RulesError(
                f"{sales_name}, line {line}: sql_rules.{i}.recent_actions: {unknown} is not a "
                f"high-intent page of {scoring_name}; fix: use some of {sorted(pages)} or add the page "
                "under engagement.high_intent_pages"
            )
    digest = hashlib.sha256(f"{scoring_text}\0{sales_text}".encode()).hexdigest()[:8]
    version = f"{scoring.version}/{sales.version}#{digest}"
    return Rules(
        scoring=scoring, sales=sales, version=version, scoring_text=scoring_text, sales_text=sales_text
    )


def load_rules(
    config_dir: Path | None = None, *, scoring_path: Path | None = None, sales_path: Path | None = None
) -> Rules:
    """Load and validate both files (default: FUNNELFLOW_CONFIG_DIR);
    raise RulesError naming file, line, fix."""
    folder = config_dir or settings.config_dir()
    scoring_path = scoring_path or folder / SCORING_FILE
    sales_path = sales_path or folder / SALES_RULES_FILE
    texts = []
    for path in (scoring_path, sales_path):
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RulesError(
                f"{path}, line 1: file not found; fix: create it (see docs/qualification.md)"
            ) from None
    return rules_from_text(texts[0], texts[1], scoring_name=str(scoring_path), sales_name=str(sales_path))


@dataclass(frozen=True)
class ActiveRules:
    rules: Rules
    problem: str | None  # set when the files are broken and the last good rules run instead


def load_active_rules(engine: sa.Engine, config_dir: Path | None = None) -> ActiveRules:
    """The rules to score with: the files if they are valid (remembered as last good),
    else the last good ones.

    Raises RulesError only when the files are broken and no rules ever loaded.
    """
    from funnelflow.db.state import get_state, put_state
    from funnelflow.qualify.state import RULES_KEY

    try:
        rules = load_rules(config_dir)
    except RulesError as exc:
        with engine.connect() as conn:
            stored = get_state(conn, RULES_KEY)
        if not stored:
            raise
        previous = rules_from_text(
            stored["scoring"],
            stored["sales"],
            scoring_name="last good scoring.yaml",
            sales_name="last good sales_rules.yaml",
        )
        log.error("rules files are invalid, scoring keeps the last good rules %s:\n%s", previous.version, exc)
        return ActiveRules(previous, str(exc))
    with engine.begin() as conn:
        stored = get_state(conn, RULES_KEY)
        if not stored or stored.get("version") != rules.version:
            put_state(
                conn,
                RULES_KEY,
                {"version": rules.version, "scoring": rules.scoring_text, "sales": rules.sales_text},
            )
    return ActiveRules(rules, None)
