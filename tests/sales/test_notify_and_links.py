"""Rep emails through the sending layer (once per item and rep) and the signed Accept/Reject pages."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from funnelflow.db.schema import email_sends, leads, sales_queue, touchpoints
from funnelflow.email.send import SendOptions
from funnelflow.email.transports import Accepted
from funnelflow.sales.notify import send_digests, send_item_emails
from funnelflow.sales.routing import route
from funnelflow.sales.sla import sweep
from funnelflow.sales.team import team_from_text
from funnelflow.web.app import MOUNT_PATH, create_standalone_app
from tests.sales.factories import AS_OF, TEAM_YAML, add_sql_lead

WORDS = "We lose leads between marketing and sales."


class Recording:
    name = "recording"

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self._lock = threading.Lock()

    def deliver(self, body: dict) -> Accepted:
        with self._lock:
            self.bodies.append(body)
        return Accepted(message_id=f"m{len(self.bodies)}")

    def text(self, i: int) -> str:
        return next(c["value"] for c in self.bodies[i]["content"] if c["type"] == "text/plain")

    def to(self, i: int) -> str:
        return self.bodies[i]["personalizations"][0]["to"][0]["email"]


@pytest.fixture(autouse=True)
def _env(monkeypatch, funnelflow_home, tmp_path):
    monkeypatch.setenv("FUNNELFLOW_SECRET_KEY", "test-secret")
    monkeypatch.setenv("FUNNELFLOW_PUBLIC_URL", "https://mkt.example.org/funnelflow")
    team_file = tmp_path / "config" / "sales_team.yaml"
    team_file.parent.mkdir()
    team_file.write_text(TEAM_YAML)
    monkeypatch.setenv("FUNNELFLOW_CONFIG_DIR", str(team_file.parent))


@pytest.fixture
def team():
    return team_from_text(TEAM_YAML)


def opts():
    return SendOptions(rate_per_s=0, concurrency=1)


def _lead_with_words(engine):
    lead_id = add_sql_lead(
        engine,
        "ana@acme.example",
        country="US",
        fit_grade="A",
        first_name="Ana",
        last_name="Diaz",
        company="Acme",
        score_breakdown={
            "v": "x",
            "fit": {"seniority_vp": 20, "free_mail": -10},
            "engagement": {"pricing_page": 9.5},
        },
    )
    with engine.begin() as conn:
        conn.execute(
            touchpoints.insert().values(
                lead_id=lead_id,
                occurred_at=AS_OF - timedelta(hours=1),
                channel="web_form",
                touch_type="form_fill",
                page_url="https://www.example.com/demo",
                detail={"landing_id": 1, "message": WORDS},
            )
        )
    return lead_id


def test_alert_once_with_facts_reasons_words_and_signed_links(engine, team, caplog):
    _lead_with_words(engine)
    route(engine, team, as_of=AS_OF)
    out = Recording()
    reports = send_item_emails(engine, out, as_of=AS_OF, options=opts())
    assert reports["alert"].sent == 1 and len(out.bodies) == 1
    text = out.text(0)
    assert out.to(0) == "marcus@example.com"
    assert "Ana Diaz" in text and "Acme" in text and "Fit grade A" in text
    assert "seniority_vp +20, pricing_page +9.5" in text
    assert WORDS in text and "form_fill https://www.example.com/demo" in text
    assert re.search(r"https://mkt.example.org/funnelflow/sales/items/2\.\d+\.\S+/accept", text)
    # A rerun (or a retried task) sends nothing again.
    again = send_item_emails(engine, out, as_of=AS_OF + timedelta(minutes=15), options=opts())
    assert again["alert"].sent == 0 and len(out.bodies) == 1
    assert WORDS not in caplog.text and "Ana" not in caplog.text


def test_reminder_to_the_rep_and_escalation_to_the_manager(engine, team):
    add_sql_lead(engine, "b@x.example", country="AT", fit_grade="A")  # jonas (emea, manager lena)
    route(engine, team, as_of=AS_OF)
    out = Recording()
    send_item_emails(engine, out, as_of=AS_OF, options=opts())
    sweep(engine, team, as_of=AS_OF + timedelta(hours=2))
    send_item_emails(engine, out, as_of=AS_OF + timedelta(hours=2), options=opts())
    sweep(engine, team, as_of=AS_OF + timedelta(hours=4))
    send_item_emails(engine, out, as_of=AS_OF + timedelta(hours=4), options=opts())
    send_item_emails(engine, out, as_of=AS_OF + timedelta(hours=4, minutes=15), options=opts())
    subjects = [(b["subject"].split(":")[0], out.to(i)) for i, b in enumerate(out.bodies)]
    assert subjects == [
        ("New sales lead for you", "jonas@example.com"),
        ("Reminder", "jonas@example.com"),
        ("Escalation", "lena@example.com"),
    ]
    with engine.connect() as conn:
        keys = sorted(conn.execute(sa.select(email_sends.c.message_key)).scalars())
    assert keys == ["sales-alert:1:jonas", "sales-escalation:1", "sales-reminder:1:jonas"]


def test_digest_once_per_rep_and_day(engine, team):
    add_sql_lead(engine, "b@x.example", country="AT", fit_grade="A")
    add_sql_lead(engine, "c@x.example", country="US", fit_grade="D")
    route(engine, team, as_of=AS_OF)
    out = Recording()
    assert send_digests(engine, out, as_of=AS_OF + timedelta(hours=1), options=opts()).sent == 2
    assert send_digests(engine, out, as_of=AS_OF + timedelta(hours=2), options=opts()).sent == 0
    jonas = next(i for i in range(2) if out.to(i) == "jonas@example.com")
    assert "DUE SOON" in out.text(jonas)


def _link(out: Recording, action: str) -> str:
    url = re.search(rf"https://mkt.example.org(/funnelflow/sales/items/\S+/{action})", out.text(0)).group(1)
    return url


def test_get_shows_the_page_and_only_post_records(engine, team):
    lead_id = _lead_with_words(engine)
    route(engine, team, as_of=AS_OF)
    out = Recording()
    send_item_emails(engine, out, as_of=AS_OF, options=opts())
    client = TestClient(create_standalone_app(engine))

    page = client.get(_link(out, "reject"))
    assert (
        page.status_code == 200
        and "No budget" in page.text
        and page.headers["Referrer-Policy"] == "no-referrer"
    )
    with engine.connect() as conn:
        assert conn.execute(sa.select(sales_queue.c.status)).scalar_one() == "open"

    assert client.post(_link(out, "reject"), data={"reason": "made up"}).status_code == 422
    done = client.post(_link(out, "reject"), data={"reason": "no_budget", "note": "next year"})
    assert done.status_code == 200 and "Rejected" in done.text
    with engine.connect() as conn:
        item = conn.execute(sa.select(sales_queue)).mappings().one()
        stage = conn.execute(sa.select(leads.c.lifecycle_stage).where(leads.c.id == lead_id)).scalar_one()
    assert (item["status"], item["outcome_reason"], stage) == ("rejected", "no_budget", "recycled")
    assert "Already answered" in client.post(_link(out, "accept")).text


def test_a_forged_or_other_purpose_token_is_refused(engine):
    from funnelflow.email.tokens import make_token

    client = TestClient(create_standalone_app(engine))
    assert client.post(f"{MOUNT_PATH}/sales/items/2.1.forged/accept").status_code == 404
    # A valid unsubscribe token for the same id does not act on a sales item.
    assert client.post(f"{MOUNT_PATH}/sales/items/{make_token('unsubscribe', 1)}/accept").status_code == 404
