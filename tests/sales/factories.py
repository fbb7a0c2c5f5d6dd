"""A small team for routing tests: two zones, calendars, segments; helpers to add leads and accounts."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from funnelflow.db.schema import accounts, leads, lifecycle_history

# Tuesday 2026-12-01 10:00 UTC = 11:00 in Berlin, 05:00 in New York.
AS_OF = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)

TEAM_YAML = """\
business_hours: {start: "09:00", end: "17:00", days: [mon, tue, wed, thu, fri]}
holidays: {DE: ["2026-12-24", "2026-12-25"]}
sla_business_hours: {A: 4, B: 8, C: 24, D: 48}
reassign_after_business_hours: 8
recycle_cooldown_days: 30
segments:
  enterprise: ["1001-5000", "5001+"]
  mid_market: ["201-500", "501-1000"]
  smb: ["1-10", "11-50", "51-200"]
inbound_team: emea
teams:
  - {name: emea, manager: lena}
  - {name: amer, manager: marcus}
reps:
  - id: lena
    name: Lena Schmidt
    email: lena@example.com
    team: emea
    timezone: Europe/Berlin
    calendar: DE
    countries: [DE, AT, CH]
    segments: [enterprise]
    industries: [software]
    capacity: 2
  - id: jonas
    name: Jonas Weber
    email: jonas@example.com
    team: emea
    timezone: Europe/Berlin
    calendar: DE
    countries: [de, at]
    segments: [mid_market, smb]
    capacity: 3
  - id: marcus
    name: Marcus Reed
    email: marcus@example.com
    team: amer
    timezone: America/New_York
    countries: [US]
    capacity: 5
routing: [account_owner, country_segment_industry, country_segment, country, any]
"""


def add_account(engine: sa.Engine, domain: str, **values) -> int:
    with engine.begin() as conn:
        return conn.execute(
            accounts.insert().values(**{"domain": domain, "name": domain, **values}).returning(accounts.c.id)
        ).scalar_one()


def add_sql_lead(
    engine: sa.Engine, email: str, became_sql: datetime = AS_OF, *, stage: str = "sql", **values
) -> int:
    """A lead at SQL with the history row that made it one (as scoring writes it)."""
    values.setdefault("fit_grade", "B")
    with engine.begin() as conn:
        lead_id = conn.execute(
            leads.insert()
            .values(
                email=email, email_key=email, lifecycle_stage=stage, lifecycle_changed_at=became_sql, **values
            )
            .returning(leads.c.id)
        ).scalar_one()
        if stage == "sql":
            conn.execute(
                lifecycle_history.insert().values(
                    lead_id=lead_id, from_stage="mql", to_stage="sql", changed_at=became_sql, reason="test"
                )
            )
    return lead_id
