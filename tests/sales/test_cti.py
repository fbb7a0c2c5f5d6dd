"""CTI: bearer key in constant time (refused without the setting), lookup by phone or email, calls and call-
backs.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from funnelflow.db.schema import sales_queue, touchpoints
from funnelflow.sales.routing import route
from funnelflow.sales.team import team_from_text
from funnelflow.web.app import MOUNT_PATH, create_standalone_app
from tests.sales.factories import AS_OF, TEAM_YAML, add_account, add_sql_lead

KEY = "cti-secret-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path, funnelflow_home):
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "sales_team.yaml").write_text(TEAM_YAML)
    monkeypatch.setenv("FUNNELFLOW_CONFIG_DIR", str(folder))
    monkeypatch.setenv("FUNNELFLOW_CTI_API_KEY", KEY)


@pytest.fixture
def client(engine):
    return TestClient(create_standalone_app(engine))


def test_refused_without_the_setting_or_the_right_key(client, monkeypatch):
    url = f"{MOUNT_PATH}/cti/lookup?phone=%2B4930123456"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get(url, headers={"Authorization": f"Basic {KEY}"}).status_code == 401
    monkeypatch.delenv("FUNNELFLOW_CTI_API_KEY")
    assert client.get(url, headers=AUTH).status_code == 503
    assert client.post(f"{MOUNT_PATH}/cti/calls", headers=AUTH, json={}).status_code == 503


def test_lookup_by_phone_in_any_format_with_the_screen_and_route_to(engine, client):
    acct = add_account(engine, "acme.example", country="US", name="Acme")
    lead_id = add_sql_lead(
        engine,
        "ana@acme.example",
        country="US",
        account_id=acct,
        first_name="Ana",
        phone_e164="+12025550143",
        fit_grade="A",
        engagement_score=42.5,
        score_breakdown={"fit": {"vp": 20}, "engagement": {"pricing_page": 10}},
    )
    with engine.begin() as conn:
        conn.execute(
            touchpoints.insert().values(
                lead_id=lead_id,
                occurred_at=AS_OF,
                channel="web_form",
                touch_type="form_fill",
                detail={"message": "Need routing"},
            )
        )
    for phone in ("+1 (202) 555-0143", "001 202 555 0143", "+12025550143"):
        answer = client.get(f"{MOUNT_PATH}/cti/lookup", params={"phone": phone}, headers=AUTH).json()
        assert answer["found"] is True and answer["lead_id"] == lead_id
    assert answer["name"] == "Ana" and answer["company"] == "Acme" and answer["fit_grade"] == "A"
    assert answer["top_reasons"] == "vp +20, pricing_page +10" and answer["lead_words"] == "Need routing"
    assert answer["open_item"] is None
    assert answer["route_to"] == {"rep_id": "marcus", "why": "routing:country_segment_industry"}
    route(engine, team_from_text(TEAM_YAML), as_of=AS_OF)
    answer = client.get(f"{MOUNT_PATH}/cti/lookup", params={"email": "ANA@acme.example"}, headers=AUTH).json()
    assert answer["open_item"]["rep_id"] == "marcus" and answer["route_to"] == {
        "rep_id": "marcus",
        "why": "open_item",
    }


def test_merged_resolve_to_the_survivor_erased_are_never_found_unknown_gets_the_inbound_team(engine, client):
    survivor = add_sql_lead(engine, "s@x.example", country="US")
    add_sql_lead(engine, "old@x.example", country="US", phone_e164="+12025550100", merged_into_id=survivor)
    add_sql_lead(engine, "gone@x.example", country="US", phone_e164="+12025550199", erased_at=AS_OF)
    found = client.get(f"{MOUNT_PATH}/cti/lookup", params={"phone": "+12025550100"}, headers=AUTH).json()
    assert found["lead_id"] == survivor
    for phone in ("+12025550199", "+12025550111"):
        answer = client.get(f"{MOUNT_PATH}/cti/lookup", params={"phone": phone}, headers=AUTH).json()
        assert answer == {"found": False, "route_to": {"team": "emea", "rep_id": None, "why": "inbound_team"}}
    bad = client.get(f"{MOUNT_PATH}/cti/lookup", params={"phone": "12"}, headers=AUTH)
    assert bad.status_code == 422 and "country code" in bad.json()["error"]


def test_an_inbound_call_logs_a_touch_once_and_makes_a_call_back_for_an_unowned_lead(engine, client):
    lead_id = add_sql_lead(engine, "c@x.example", stage="mql", country="AT", phone_e164="+43123456789")
    call = {
        "call_id": "c-1",
        "direction": "inbound",
        "duration_s": 95,
        "outcome": "voicemail",
        "phone": "+43 1 23456789",
    }
    first = client.post(f"{MOUNT_PATH}/cti/calls", json=call, headers=AUTH)
    assert first.status_code == 201 and first.json()["call_back_item"] is not None
    again = client.post(f"{MOUNT_PATH}/cti/calls", json=call, headers=AUTH)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    second_call = client.post(f"{MOUNT_PATH}/cti/calls", json={**call, "call_id": "c-2"}, headers=AUTH)
    assert second_call.json()["call_back_item"] is None  # now owned, with an open item
    with engine.connect() as conn:
        item = conn.execute(sa.select(sales_queue)).mappings().one()
        touches = conn.execute(
            sa.select(touchpoints.c.touch_type, touchpoints.c.detail).where(touchpoints.c.lead_id == lead_id)
        ).all()
    assert (item["kind"], item["status"], item["rep_id"], item["routing_reason"]) == (
        "call_back",
        "open",
        "jonas",
        "country",
    )
    assert [t for t, _ in touches] == ["sales_activity", "sales_activity"]
    assert touches[0][1]["outcome"] == "voicemail" and touches[0][1]["duration_s"] == 95
    bad = client.post(
        f"{MOUNT_PATH}/cti/calls", json={**call, "call_id": "c-3", "direction": "sideways"}, headers=AUTH
    )
    assert bad.status_code == 422
    assert client.post(f"{MOUNT_PATH}/cti/calls", json={**call, "extra": 1}, headers=AUTH).status_code == 422


def test_a_lead_without_an_account_goes_to_its_own_owner_and_gets_no_call_back(engine, client):
    lead_id = add_sql_lead(engine, "solo@mail.example", country="US", phone_e164="+12025550177")
    route(engine, team_from_text(TEAM_YAML), as_of=AS_OF)
    with engine.begin() as conn:  # the rep worked the handoff and closed it
        conn.execute(sales_queue.update().where(sales_queue.c.lead_id == lead_id).values(status="closed"))
    answer = client.get(f"{MOUNT_PATH}/cti/lookup", params={"phone": "+12025550177"}, headers=AUTH).json()
    assert answer["open_item"] is None and answer["owner_rep_id"] == "marcus"
    assert answer["route_to"] == {"rep_id": "marcus", "why": "lead_owner"}
    call = {"call_id": "solo-1", "direction": "inbound", "duration_s": 30, "outcome": "connected"}
    logged = client.post(f"{MOUNT_PATH}/cti/calls", json={**call, "phone": "+12025550177"}, headers=AUTH)
    assert logged.status_code == 201 and logged.json()["call_back_item"] is None


def test_the_screen_shows_the_five_newest_touches_and_the_words_of_an_older_one(engine, client):
    lead_id = add_sql_lead(engine, "t@x.example", country="US", phone_e164="+12025550122")
    touches = [  # (days before AS_OF, type, page, message); inserted out of order on purpose
        (3, "page_view", "https://x.example/pricing", None),
        (9, "form_fill", None, "We need SSO for 400 people"),  # the sixth newest
        (1, "email_click", "https://x.example/blog", None),
        (12, "form_fill", None, "an older message"),
        (2, "page_view", None, None),
        (5, "webinar_attended", None, None),
        (4, "email_open", None, None),
    ]
    with engine.begin() as conn:
        for days, kind, page, message in touches:
            conn.execute(
                touchpoints.insert().values(
                    lead_id=lead_id,
                    occurred_at=AS_OF - timedelta(days=days, hours=1),
                    channel="web",
                    touch_type=kind,
                    page_url=page,
                    detail={"message": message} if message else {"k": 1},
                )
            )
    newest = sorted(touches)[:5]
    expected = [
        f"{(AS_OF - timedelta(days=d, hours=1)):%Y-%m-%d} {kind}{f' {page}' if page else ''}"
        for d, kind, page, _ in newest
    ]
    answer = client.get(f"{MOUNT_PATH}/cti/lookup", params={"phone": "+12025550122"}, headers=AUTH).json()
    assert answer["last_touches"] == expected
    assert answer["lead_words"] == "We need SSO for 400 people"


def test_a_merge_chain_resolves_to_its_end_and_an_erased_first_match_does_not_hide_a_live_one(engine, client):
    survivor = add_sql_lead(engine, "end@x.example", country="US")
    middle = add_sql_lead(engine, "mid@x.example", country="US", merged_into_id=survivor)
    add_sql_lead(engine, "first@x.example", country="US", phone_e164="+12025550133", merged_into_id=middle)
    answer = client.get(f"{MOUNT_PATH}/cti/lookup", params={"phone": "+12025550133"}, headers=AUTH).json()
    assert answer["lead_id"] == survivor
    live = add_sql_lead(engine, "live@x.example", country="US", phone_e164="+12025550144")
    add_sql_lead(engine, "erased@x.example", country="US", phone_e164="+12025550144", erased_at=AS_OF)
    answer = client.get(f"{MOUNT_PATH}/cti/lookup", params={"phone": "+12025550144"}, headers=AUTH).json()
    assert answer["lead_id"] == live


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_lookup_survives_connections_the_server_dropped(db_url, client):
    """The lookups' pool has no pre-ping: a connection the server dropped is retried once."""
    params = {"phone": "+12025550155"}
    assert client.get(f"{MOUNT_PATH}/cti/lookup", params=params, headers=AUTH).json()["found"] is False
    admin = sa.create_engine(db_url, poolclass=sa.NullPool)
    with admin.connect() as conn:
        dropped = conn.execute(
            sa.text(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity "
                "where datname = current_database() and pid <> pg_backend_pid()"
            )
        ).scalar_one()
    admin.dispose()
    assert dropped >= 1  # the pooled connection of the first lookup
    answer = client.get(f"{MOUNT_PATH}/cti/lookup", params=params, headers=AUTH)
    assert answer.status_code == 200 and answer.json()["found"] is False
