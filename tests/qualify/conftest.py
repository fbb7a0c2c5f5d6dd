"""Helpers for qualification tests: leads, touchpoints and accounts written in a line, the shipped rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from funnelflow.db.schema import accounts, leads, touchpoints
from funnelflow.qualify.rules import Rules, load_rules, rules_from_text

REPO = Path(__file__).resolve().parents[2]
AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def rules() -> Rules:
    return load_rules(REPO / "config")


def rules_with(scoring_edit=None, sales_edit=None) -> Rules:
    """The shipped rules with text replacements, e.g. rules_with(("half_life_days: 30", "half_life_days: 7"))."""
    scoring = (REPO / "config" / "scoring.yaml").read_text()
    sales = (REPO / "config" / "sales_rules.yaml").read_text()
    if scoring_edit:
        assert scoring_edit[0] in scoring
        scoring = scoring.replace(*scoring_edit)
    if sales_edit:
        assert sales_edit[0] in sales
        sales = sales.replace(*sales_edit)
    return rules_from_text(scoring, sales)


def add_account(engine: sa.Engine, domain: str, **values) -> int:
    with engine.begin() as conn:
        return conn.execute(
            accounts.insert().values(domain=domain, **values).returning(accounts.c.id)
        ).scalar_one()


def add_lead(engine: sa.Engine, email: str | None, **values) -> int:
    with engine.begin() as conn:
        return conn.execute(
            leads.insert()
            .values(
                email=email,
                email_key=email,
                email_domain=email.rpartition("@")[2] if email else None,
                **values,
            )
            .returning(leads.c.id)
        ).scalar_one()


def touch(
    engine: sa.Engine,
    lead_id: int,
    touch_type: str,
    days_ago: float,
    page_url: str | None = None,
    *,
    as_of: datetime = AS_OF,
    scored: bool = True,
    detail: dict | None = None,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            touchpoints.insert().values(
                lead_id=lead_id,
                occurred_at=as_of - timedelta(days=days_ago),
                channel="web",
                touch_type=touch_type,
                page_url=page_url,
                scored=scored,
                detail=detail,
            )
        )


def lead_row(engine: sa.Engine, lead_id: int):
    with engine.connect() as conn:
        return conn.execute(sa.select(leads).where(leads.c.id == lead_id)).one()


def history(engine: sa.Engine, lead_id: int | None = None) -> list[tuple]:
    from funnelflow.db.schema import lifecycle_history as h

    stmt = sa.select(h.c.lead_id, h.c.from_stage, h.c.to_stage, h.c.changed_at, h.c.reason).order_by(h.c.id)
    if lead_id is not None:
        stmt = stmt.where(h.c.lead_id == lead_id)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(stmt).all()]


def count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"select count(*) from {table}")).scalar_one()
