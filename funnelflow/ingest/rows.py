"""The stage's row layout and the plain-Python helpers that build its rows.

No SQLAlchemy here: the file worker process imports this and stays small.
``funnelflow.ingest.stage`` loads the rows and writes them with SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

PERSON_FIELDS: tuple[str, ...] = (
    "email",
    "email_key",
    "email_domain",
    "first_name",
    "last_name",
    "company",
    "job_title",
    "phone",
    "phone_e164",
    "country",
    "external_source",
    "external_id",
    "original_source",
)
PEOPLE_COLUMNS: tuple[str, ...] = (
    "match_key",
    *PERSON_FIELDS,
    "first_seen_at",
    "last_seen_at",
    "arrivals",
    "first_pos",
)
ARRIVAL_COLUMNS: tuple[str, ...] = (
    "pos",
    "match_key",
    "occurred_at",
    "campaign",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "page_url",
    "detail",
    "source_ref",
    "consent_status",
    "legal_basis",
    "client_ip",
    "dne_hash",
)
# Each stage column's type for COPY's binary format (funnelflow.db.helpers.COPY_ENCODERS), in column order.
PEOPLE_TYPES: tuple[str, ...] = (
    "text",
    *("text" for _ in PERSON_FIELDS),
    "timestamptz",
    "timestamptz",
    "int4",
    "int8",
)
ARRIVAL_TYPES: tuple[str, ...] = ("int8", "text", "timestamptz", *("text" for _ in ARRIVAL_COLUMNS[3:]))
# Company facts as typed, one row per match key (first non-blank value of each); only batches that carry
# some stage them (``funnelflow.ingest.company``).
COMPANY_FACTS: tuple[str, ...] = (
    "industry",
    "employee_count",
    "employee_band",
    "annual_revenue",
    "revenue_band",
)
COMPANY_COLUMNS: tuple[str, ...] = ("match_key", *COMPANY_FACTS)
COMPANY_TYPES: tuple[str, ...] = ("text", "text", "int4", "text", "int8", "text")
_EMAIL_KEY = 2  # positions in a people row
_FIRST_SEEN = 1 + len(PERSON_FIELDS)
_LAST_SEEN, _ARRIVALS = _FIRST_SEEN + 1, _FIRST_SEEN + 2


def stage_time(value: datetime, postgres: bool) -> datetime | str:
    """A time as the stage holds it: in UTC, and on SQLite as SQLAlchemy's fixed-width text form,
    whose text order is time order (``collapse_people`` compares them either way)."""
    value = value.astimezone(UTC)
    return value if postgres else value.strftime("%Y-%m-%d %H:%M:%S.%f")


def collapse_people(rows: Iterable[list[Any]]) -> list[list[Any]]:
    """One row per match key from ``PEOPLE_COLUMNS`` rows (one per arrival, ``arrivals`` = 1),
    merged in place.

    The first non-blank value of each field wins; times widen to the earliest
    and latest arrival (``stage_time`` values).
    """
    people: dict[str, list[Any]] = {}
    fields = range(1, _FIRST_SEEN)
    for row in rows:
        person = people.get(row[0])
        if person is None:
            people[row[0]] = row
            continue
        for n in fields:
            if person[n] is None and row[n] is not None:
                person[n] = row[n]
        if row[_FIRST_SEEN] < person[_FIRST_SEEN]:
            person[_FIRST_SEEN] = row[_FIRST_SEEN]
        if row[_LAST_SEEN] > person[_LAST_SEEN]:
            person[_LAST_SEEN] = row[_LAST_SEEN]
        person[_ARRIVALS] += 1
    return list(people.values())


def in_email_key_order(people: list[list[Any]]) -> list[list[Any]]:
    """``PEOPLE_COLUMNS`` rows sorted in place by email key, people without one last (in arrival order):
    the email upsert walks the unique index in key order, and its sort then finds them sorted."""
    people.sort(key=lambda p: (p[_EMAIL_KEY] is None, p[_EMAIL_KEY] or ""))
    return people


def collapse_company(rows: Iterable[list[Any]]) -> list[list[Any]]:
    """One ``COMPANY_COLUMNS`` row per match key: the first non-blank value of each fact wins."""
    people: dict[str, list[Any]] = {}
    for row in rows:
        held = people.get(row[0])
        if held is None:
            people[row[0]] = row
            continue
        for n in range(1, len(COMPANY_COLUMNS)):
            if held[n] is None and row[n] is not None:
                held[n] = row[n]
    return list(people.values())
