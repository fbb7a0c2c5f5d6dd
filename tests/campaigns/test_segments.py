"""The segment compiler against hand-computed audiences, every operator, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from funnelflow.db.schema import accounts, email_sends, leads, touchpoints
from funnelflow.segments import Segment, compile_segment, segment_sql

AS_OF = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _lead(conn, **values) -> int:
    return conn.execute(sa.insert(leads).values(**values).returning(leads.c.id)).scalar_one()


def _account(conn, **values) -> int:
    return conn.execute(sa.insert(accounts).values(**values).returning(accounts.c.id)).scalar_one()


def _touch(conn, lead_id: int, touch_type: str, days_ago: float, campaign=None, scored=True) -> None:
    conn.execute(
        sa.insert(touchpoints).values(
            lead_id=lead_id,
            occurred_at=AS_OF - timedelta(days=days_ago),
            channel="email",
            touch_type=touch_type,
            campaign=campaign,
            scored=scored,
        )
    )


def _received(conn, lead_id: int, campaign: str, days_ago: float, status: str = "sent") -> None:
    at = AS_OF - timedelta(days=days_ago)
    conn.execute(
        sa.insert(email_sends).values(
            message_key=f"campaign:{campaign}:x",
            recipient_hash=f"h{lead_id}{campaign}{status}",
            lead_id=lead_id,
            campaign_id=campaign,
            template="newsletter",
            kind="marketing",
            status=status,
            claimed_at=at,
            sent_at=at if status != "skipped" else None,
        )
    )


@pytest.fixture
def people(engine) -> dict[str, int]:
    """Six leads; the comments say what each should match."""
    with engine.begin() as conn:
        software = _account(conn, domain="a.example", industry="Software", employee_band="51-200")
        lower_software = _account(conn, domain="b.example", industry="software", employee_band="201-500")
        no_industry = _account(conn, domain="c.example", industry=None, employee_band="11-50")
        p = {}
        p["l1"] = _lead(
            conn,
            lifecycle_stage="lead",
            fit_grade="A",
            engagement_score=25,
            country="DE",
            account_id=software,
        )
        p["l2"] = _lead(
            conn,
            lifecycle_stage="mql",
            fit_grade="B",
            engagement_score=20,
            country="AT",
            account_id=lower_software,
        )
        p["l3"] = _lead(conn, lifecycle_stage="customer", fit_grade="A", engagement_score=50, country="US")
        p["erased"] = _lead(conn, lifecycle_stage="lead", fit_grade="A", erased_at=AS_OF - timedelta(days=1))
        p["merged"] = _lead(conn, lifecycle_stage="lead", fit_grade="A", country="DE", merged_into_id=p["l1"])
        p["l6"] = _lead(
            conn,
            lifecycle_stage="lead",
            fit_grade="B",
            engagement_score=19.9,
            country="CH",
            account_id=no_industry,
        )
        _touch(conn, p["l1"], "email_click", 10)
        _touch(conn, p["l1"], "webinar_attended", 50, campaign="webinar-2026-10")
        _touch(conn, p["l2"], "email_click", 40)  # outside 30 days
        _touch(conn, p["l2"], "email_open", 1, scored=False)  # a machine open never counts
        _touch(conn, p["l3"], "form_fill", -0.5)  # after the as-of time: does not count
        _touch(conn, p["l6"], "email_click", 29.9)  # inside 30 days, but only with any touch type
        _touch(conn, p["merged"], "email_click", 1)
        _received(conn, p["l3"], "spring-newsletter", 10)
        _received(conn, p["l6"], "spring-newsletter", 20, status="delivered")
        _received(conn, p["l1"], "spring-newsletter", 1, status="skipped")  # never sent: not received
        _received(conn, p["l2"], "spring-newsletter", -1)  # sent after the as-of time
    return p


def audience(engine, people, spec: dict) -> set[str]:
    names = {v: k for k, v in people.items()}
    with engine.connect() as conn:
        ids = conn.execute(compile_segment(Segment.model_validate(spec), AS_OF)).scalars().all()
    assert ids == sorted(ids)
    return {names[i] for i in ids}


CASES = [
    ({}, {"l1", "l2", "l3", "l6"}),  # everyone but the erased and the merged-away
    ({"all": [{"lifecycle_stage": ["lead", "MQL"]}]}, {"l1", "l2", "l6"}),
    ({"all": [{"lifecycle_stage": {"not_in": ["customer"]}}]}, {"l1", "l2", "l6"}),
    ({"all": [{"fit_grade": ["a"]}]}, {"l1", "l3"}),
    ({"all": [{"engagement_score": {"gte": 20}}]}, {"l1", "l2", "l3"}),
    ({"all": [{"engagement_score": {"lte": 20}}]}, {"l2", "l6"}),
    ({"all": [{"engagement_score": {"gte": 20, "lte": 30}}]}, {"l1", "l2"}),
    ({"all": [{"engagement_score": [25, 50]}]}, {"l1", "l3"}),
    ({"all": [{"country": ["de", "AT"]}]}, {"l1", "l2"}),
    ({"all": [{"industry": ["SOFTWARE"]}]}, {"l1", "l2"}),
    ({"all": [{"industry": {"not_in": ["software"]}}]}, set()),  # missing industry is false, not "not in"
    ({"none": [{"industry": ["Software"]}]}, {"l3", "l6"}),  # no account / no industry: kept by none
    ({"all": [{"employee_band": ["51-200", "11-50"]}]}, {"l1", "l6"}),
    ({"all": [{"engaged": {"within_days": 30, "touch_types": ["email_click", "form_fill"]}}]}, {"l1", "l6"}),
    ({"all": [{"engaged": {"within_days": 20}}]}, {"l1"}),
    ({"all": [{"touched": {"campaign": "WEBINAR-2026-10", "touch_types": ["webinar_attended"]}}]}, {"l1"}),
    ({"all": [{"touched": {"campaign": "webinar-2026-10", "within_days": 30}}]}, set()),
    ({"all": [{"received": {"campaign": "spring-newsletter", "within_days": 14}}]}, {"l3"}),
    ({"all": [{"received": {"campaign": "spring-newsletter"}}]}, {"l3", "l6"}),
    ({"none": [{"received": {"campaign": "spring-newsletter", "within_days": 14}}]}, {"l1", "l2", "l6"}),
    ({"any": [{"country": ["US"]}, {"fit_grade": ["B"]}]}, {"l2", "l3", "l6"}),
    (
        {
            "all": [
                {"lifecycle_stage": ["lead", "mql"]},
                {"any": [{"country": ["CH"]}, {"industry": ["Software"]}]},
            ]
        },
        {"l1", "l2", "l6"},
    ),
    (
        {
            "all": [{"fit_grade": ["A", "B"]}],
            "any": [{"engagement_score": {"gte": 25}}, {"country": ["CH"]}],
            "none": [{"lifecycle_stage": ["customer"]}],
        },
        {"l1", "l6"},
    ),
    ({"all": [{"none": [{"country": ["DE"]}, {"country": ["AT"]}]}]}, {"l3", "l6"}),
]


@pytest.mark.parametrize(("spec", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_segment_matches_the_hand_computed_audience(engine, people, spec, expected):
    assert audience(engine, people, spec) == expected


def test_one_statement_with_bound_values(engine):
    seg = Segment.model_validate({"all": [{"country": ["DE"]}, {"engaged": {"within_days": 30}}]})
    sql, params = segment_sql(seg, AS_OF, engine.dialect.name)
    assert sql.lower().startswith("select leads.id")
    assert sql.lower().count("select") == 2  # the lead query and one EXISTS
    assert "'de'" not in sql.lower() and "de" in [
        str(v) for v in params.values() for v in (v if isinstance(v, list) else [v])
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"all": [{"country": ["DE"], "fit_grade": ["A"]}]}, "exactly one condition"),
        ({"all": [{"industry": {"gte": 3}}]}, "industry is text"),
        ({"all": [{"engaged": {"touch_types": ["email_click"]}}]}, "engaged needs within_days"),
        ({"all": [{"engaged": {"within_days": 3, "touch_types": ["email_klick"]}}]}, "unknown touch type"),
        ({"all": [{"colour": ["red"]}]}, "Extra inputs are not permitted"),
        ({"all": [{"country": {}}]}, "at least one operator"),
    ],
)
def test_mistakes_are_refused(spec, message):
    with pytest.raises(ValidationError, match=message):
        Segment.model_validate(spec)
