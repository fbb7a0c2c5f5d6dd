"""POST /funnelflow/leads: shape checks, limits, client address, CORS; then landed rows become leads."""

from __future__ import annotations

import hashlib
import json

import pytest
from fastapi.testclient import TestClient

from funnelflow.ingest.config import load_header_mapping, load_sources
from funnelflow.ingest.landing import process_landing
from funnelflow.web.app import create_standalone_app
from funnelflow.web.leads import RATE_WINDOW_SECONDS, RateLimiter
from tests.factories import count, rows

FORM = {
    "email": "Ada@Example.com",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "company": "Engines Ltd",
    "job_title": "CTO",
    "phone": "+44 20 7946 0000",
    "country": "GB",
    "consent": True,
    "utm_source": "google",
    "utm_medium": "cpc",
    "utm_campaign": "brand",
    "utm_term": "marketing automation",
    "utm_content": "ad-1",
    "page_url": "https://www.example.com/demo",
}


@pytest.fixture
def client_for(engine, monkeypatch):
    def make(peer: str = "203.0.113.7", **env: str) -> TestClient:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return TestClient(create_standalone_app(engine), client=(peer, 50000))

    return make


def _landing(engine) -> list[dict]:
    out = rows(engine, "select * from lead_landing order by id")
    for row in out:
        if isinstance(row["payload"], str):
            row["payload"] = json.loads(row["payload"])
    return out


def test_a_json_post_is_landed_at_once_and_answered_202(engine, client_for):
    response = client_for().post("/funnelflow/leads", json=FORM)
    assert response.status_code == 202
    [row] = _landing(engine)
    assert response.json() == {"status": "accepted"}  # no sequential id: it would tell a bot apart
    assert row["source"] == "web_form" and row["client_ip"] == "203.0.113.7" and row["processed_at"] is None
    assert row["payload"]["email"] == "Ada@Example.com" and row["payload"]["consent"] is True
    expected = hashlib.sha256(
        json.dumps(row["payload"], sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert row["content_hash"] == expected


def test_a_browser_form_post_is_accepted_with_its_checkbox(engine, client_for):
    response = client_for().post(
        "/funnelflow/leads", data={"email": "b@example.com", "consent": "on", "company": ""}
    )
    assert response.status_code == 202
    [row] = _landing(engine)
    assert row["payload"]["consent"] is True and row["payload"]["company"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**FORM, "consent": "maybe"}, "consent"),
        ({**FORM, "email": 12345}, "email"),
        ({k: v for k, v in FORM.items() if k != "email"}, "email"),
        ({**FORM, "favourite": "x"}, "favourite"),
    ],
    ids=["wrong-type-consent", "wrong-type-email", "missing-email", "unknown-field"],
)
def test_bad_shapes_get_422_naming_the_field_and_store_nothing(engine, client_for, body, field):
    response = client_for().post("/funnelflow/leads", json=body)
    assert response.status_code == 422
    assert field in {p["field"] for p in response.json()["detail"]}
    assert count(engine, "lead_landing") == 0


def test_an_oversized_body_gets_413(engine, client_for):
    client = client_for(FUNNELFLOW_FORM_MAX_BYTES="2000")
    response = client.post("/funnelflow/leads", json={**FORM, "company": "x" * 3000})
    assert response.status_code == 413
    assert count(engine, "lead_landing") == 0


def test_the_honeypot_answers_exactly_like_success_and_stores_nothing(engine, client_for):
    client = client_for()
    person = client.post("/funnelflow/leads", json=FORM)
    bot = client.post("/funnelflow/leads", json={**FORM, "website": "http://spam.example"})
    assert bot.status_code == person.status_code == 202
    assert bot.content == person.content  # byte for byte: no id, random or sequential
    assert {k: v for k, v in bot.headers.items() if k != "date"} == {
        k: v for k, v in person.headers.items() if k != "date"
    }
    assert count(engine, "lead_landing") == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (json.dumps({**FORM, "first_name": "Ada\u0000"}).encode(), "first_name"),
        (json.dumps({**FORM, "email": "ada\u0000@example.com"}).encode(), "email"),
        (json.dumps({**FORM, "last_name": "Love\nlace"}).encode(), "last_name"),
        (json.dumps({**FORM, "company": "Engines\u2028Ltd"}).encode(), "company"),
        (json.dumps({**FORM, "utm_term": "a\ud800b"}).encode(), "utm_term"),  # a lone surrogate
    ],
    ids=["nul-json", "nul-in-email", "line-feed", "line-separator", "lone-surrogate"],
)
def test_control_characters_and_broken_unicode_get_422_naming_the_field(engine, client_for, body, field):
    response = client_for().post(
        "/funnelflow/leads", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert [p["field"] for p in response.json()["detail"]] == [field]
    assert "ada" not in response.text.lower()  # the refusal never echoes what was sent
    assert count(engine, "lead_landing") == 0


def test_a_nul_in_a_browser_form_post_gets_422(engine, client_for):
    response = client_for().post(
        "/funnelflow/leads",
        content=b"email=ada%00%40example.com&first_name=Ada",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "email"
    assert count(engine, "lead_landing") == 0


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 8_000 + b"]" * 8_000,
        b'{"email": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
        b'{"email": [[["a@example.com"]]]}',
        b'{"email": "a@example.com", "company": NaN}',
        b'{"email": "a@example.com", "company": 1e400}',
        b'{"email": "a@example.com", "comp\\ud800any": "x"}',
    ],
    ids=["nested-array", "nested-field", "shallow-nesting", "nan", "overflowing-number", "broken-field-name"],
)
def test_deeply_nested_or_non_standard_json_gets_400(engine, client_for, body):
    response = client_for().post(
        "/funnelflow/leads", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert count(engine, "lead_landing") == 0


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(engine, client_for):
    forged = {"X-Forwarded-For": "198.51.100.99"}
    client_for(peer="203.0.113.7", FUNNELFLOW_TRUSTED_PROXIES="10.0.0.0/8").post(
        "/funnelflow/leads", json=FORM, headers=forged
    )
    client_for(peer="10.1.2.3", FUNNELFLOW_TRUSTED_PROXIES="10.0.0.0/8").post(
        "/funnelflow/leads", json=FORM, headers={"X-Forwarded-For": "198.51.100.99, 10.9.9.9"}
    )
    assert [r["client_ip"] for r in _landing(engine)] == ["203.0.113.7", "198.51.100.99"]


def test_rate_limiter_forgets_idle_clients_and_stays_bounded():
    limiter = RateLimiter(per_minute=2, max_clients=1000)
    for n in range(5000):  # more addresses than it may remember, all inside one minute
        assert limiter.allow(f"198.51.{n // 256}.{n % 256}", now=100.0 + n / 1000) == (True, 0)
    assert len(limiter) == 1000
    assert limiter.allow("198.51.19.135", now=105.0)[0]  # among the last 1000: remembered
    assert limiter.allow("198.51.19.135", now=105.0) == (False, 60)
    # A minute after their last post every one of them is idle: the next post finds only itself.
    assert limiter.allow("203.0.113.1", now=105.0 + RATE_WINDOW_SECONDS + 0.01) == (True, 0)
    assert len(limiter) == 1


def test_rate_limiter_still_limits_the_busiest_client_while_others_come_and_go():
    limiter = RateLimiter(per_minute=3, max_clients=10)
    answers = []
    for n in range(40):
        answers.append(limiter.allow("busy", now=float(n))[0])
        limiter.allow(f"passer-by-{n}", now=float(n))  # evicts the oldest passers-by, not "busy"
    assert answers[:3] == [True, True, True] and not any(answers[3:40])
    assert len(limiter) == 10


def test_posts_per_client_address_are_limited(engine, client_for):
    client = client_for(FUNNELFLOW_FORM_RATE_LIMIT="3")
    codes = [client.post("/funnelflow/leads", json=FORM).status_code for _ in range(4)]
    assert codes == [202, 202, 202, 429]
    assert count(engine, "lead_landing") == 3


def test_cors_allows_only_the_configured_marketing_origins(engine, client_for):
    client = client_for(FUNNELFLOW_FORM_ORIGINS="https://www.example.com")
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    ok = client.options("/funnelflow/leads", headers={"Origin": "https://www.example.com", **preflight})
    evil = client.options("/funnelflow/leads", headers={"Origin": "https://evil.example", **preflight})
    assert ok.headers.get("access-control-allow-origin") == "https://www.example.com"
    assert "access-control-allow-origin" not in evil.headers


def test_landed_posts_become_leads_with_pending_consent_and_a_touchpoint_each(engine, client_for):
    client = client_for()
    client.post("/funnelflow/leads", json=FORM)
    client.post("/funnelflow/leads", json=FORM)  # a double click: duplicate within the window
    client.post("/funnelflow/leads", json={**FORM, "utm_campaign": "retargeting", "consent": False})
    client.post("/funnelflow/leads", json={**FORM, "email": "broken@nowhere"})
    totals = process_landing(engine, load_sources(), load_header_mapping())
    assert totals["web_form"].as_dict() == {
        "rows_in": 4,
        "inserted": 1,
        "updated": 1,
        "rejected": 1,
        "duplicates": 1,
    }
    [lead] = rows(engine, "select * from leads")
    assert lead["email_key"] == "ada@example.com" and lead["phone_e164"] == "+442079460000"
    touches = rows(
        engine, "select channel, touch_type, utm_campaign, utm_term, page_url from touchpoints order by id"
    )
    assert [t["utm_campaign"] for t in touches] == ["brand", "retargeting"]
    assert touches[0] == {
        "channel": "web_form",
        "touch_type": "form_fill",
        "utm_campaign": "brand",
        "utm_term": "marketing automation",
        "page_url": "https://www.example.com/demo",
    }
    [consent] = rows(engine, "select status, legal_basis, source, wording_version, client_ip from consents")
    assert consent == {
        "status": "pending",
        "legal_basis": "consent",
        "source": "web_form",
        "wording_version": "2026-01",
        "client_ip": "203.0.113.7",
    }
    outcomes = [r["outcome"] for r in _landing(engine)]
    assert outcomes == ["inserted", "duplicate", "updated", "rejected"]
    assert rows(engine, "select source_file, reason from ingest_rejects")[0]["reason"] == "malformed email"
    assert process_landing(engine, load_sources(), load_header_mapping()) == {}  # nothing twice


def test_the_forms_message_is_stored_with_the_touch_and_never_logged(engine, caplog):
    """The optional "What would you like to solve?" field reaches the touchpoint's detail for the rep."""
    import logging

    import sqlalchemy as sa

    from funnelflow.db.schema import lead_landing, touchpoints
    from funnelflow.ingest.config import load_header_mapping, load_sources
    from funnelflow.ingest.landing import process_landing
    from funnelflow.web.leads import FORM_FIELDS, LeadForm, content_hash

    words = "Our reps call back too late; we need routing by country."
    payload = LeadForm.model_validate(
        {"email": "msg@acme.example", "message": words, "page_url": "https://www.example.com/demo"}
    ).model_dump(include=set(FORM_FIELDS))
    assert payload["message"] == words
    from funnelflow.db.schema import utcnow

    with engine.begin() as conn:
        conn.execute(
            lead_landing.insert().values(
                source="web_form", received_at=utcnow(), payload=payload, content_hash=content_hash(payload)
            )
        )
    with caplog.at_level(logging.DEBUG):
        process_landing(engine, load_sources(), load_header_mapping())
    with engine.connect() as conn:
        detail = conn.execute(sa.select(touchpoints.c.detail)).scalar_one()
    assert detail["message"] == words and "landing_id" in detail
    assert words not in caplog.text
