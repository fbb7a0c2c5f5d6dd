"""Qualification test helpers: leads and accounts written in a line, the shipped rules edited.

Touchpoints, AS_OF and REPO are in tests/factories.py (the sales tests use them too).
"""

from __future__ import annotations

import sqlalchemy as sa

from funnelflow.db.schema import accounts, leads
from funnelflow.qualify.rules import Rules, rules_from_text
from tests.factories import REPO


def rules_with(scoring_edit=None, sales_edit=None) -> Rules:
    """The shipped rules with text replacements.

    E.g. ``rules_with(("half_life_days: 30", "half_life_days: 7"))``.
    """
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
