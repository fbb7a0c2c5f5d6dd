"""The qualification steps in order, as the DAG runs them (and tests and the CLI can, without Airflow)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from funnelflow.db.schema import utcnow
from funnelflow.qualify.dedupe import find_and_merge
from funnelflow.qualify.enrich import EnrichmentProvider, enrich_leads, provider_from_settings
from funnelflow.qualify.normalize import normalize_leads
from funnelflow.qualify.rules import load_active_rules
from funnelflow.qualify.score import Scope, ScoreResult, score_and_stage

log = logging.getLogger(__name__)


@dataclass
class QualifyResult:
    score: ScoreResult
    rules_problem: str | None


def qualify(engine: sa.Engine, *, as_of: datetime, scope: Scope = "changed", run_id: str | None = None,
            provider: EnrichmentProvider | None = None) -> QualifyResult:
    """Normalize, enrich, dedupe, then score and stage: every step only over the leads that changed."""
    started = utcnow()
    active = load_active_rules(engine)
    normalize_leads(engine)
    enrich_leads(engine, provider or provider_from_settings(), as_of=as_of)
    find_and_merge(engine)
    result = score_and_stage(engine, active.rules, as_of=as_of, scope=scope, run_id=run_id, seen_before=started)
    return QualifyResult(result, active.problem)
