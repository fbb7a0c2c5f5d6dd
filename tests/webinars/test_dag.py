"""The webinars DAG end to end through Airflow (dag.test) at successive run times: invitation waves,
one-click registrations, confirmations, the 24 h and 1 h reminders, the platform's attendance report
and the follow-ups by outcome, each email once (every run is run twice: a rerun sends nothing more)."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from funnelflow.db.engine import make_engine
from funnelflow.db.schema import email_sends, leads, webinar_registrations
from funnelflow.web.app import MOUNT_PATH, create_standalone_app
from funnelflow.webinars.tokens import invitation_token
from tests.factories import add_person
from tests.fakes.webinar_platform import FakeWebinarPlatform

REPO = Path(__file__).resolve().parents[2]
BERLIN = ZoneInfo("Europe/Berlin")
# The public pages take registrations until the webinar ends by the wall clock, so the event is
# placed in the future; everything the DAG does is computed from each run's own time.
STARTS = (datetime.now(UTC) + timedelta(days=30)).replace(minute=0, second=0, microsecond=0)
ENDS = STARTS + timedelta(minutes=60)
WAVES = (STARTS - timedelta(days=10), STARTS - timedelta(days=3))
FILE = """title: Planning your retirement
starts_at: "{starts}"
timezone: Europe/Berlin
duration_minutes: 60
join_url: https://zoom.example.com/j/1
capacity: 2
host: Dana
recording_url: https://example.com/recording
invitations:
  audience:
    all:
      - lifecycle_stage: [lead, mql]
  waves: ["{wave1}", "{wave2}"]
platform: {{conn_id: zoom_test, webinar_id: "81234567890"}}
"""


def _local(at: datetime) -> str:
    return at.astimezone(BERLIN).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture
def webinar_env(tmp_path, monkeypatch, marketing_db_env, funnelflow_home):
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config, ignore=shutil.ignore_patterns("webinars", "campaigns"))
    (config / "webinars").mkdir()
    (config / "webinars" / "rp.yaml").write_text(
        FILE.format(starts=_local(STARTS), wave1=_local(WAVES[0]), wave2=_local(WAVES[1]))
    )
    monkeypatch.setenv("FUNNELFLOW_CONFIG_DIR", str(config))
    monkeypatch.setenv("FUNNELFLOW_EMAIL_TRANSPORT", "outbox")
    monkeypatch.setenv("FUNNELFLOW_SECRET_KEY", "dag-test-key")
    monkeypatch.setenv("FUNNELFLOW_PUBLIC_URL", "https://mkt.example.org/funnelflow")
    monkeypatch.setenv("FUNNELFLOW_POSTAL_ADDRESS", "Acme Inc, 500 Test Road, Testville")
    with FakeWebinarPlatform() as platform:
        monkeypatch.setenv(
            "AIRFLOW_CONN_ZOOM_TEST",
            json.dumps({"conn_type": "http", "host": platform.base_url, "password": platform.token}),
        )
        yield platform


def _sent(engine) -> Counter:
    """(step, lead id) -> how many emails went, from the send ledger."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(email_sends.c.message_key, email_sends.c.lead_id).where(email_sends.c.status == "sent")
        ).all()
    return Counter((key.removeprefix("webinar:rp:"), lead) for key, lead in rows)


def _new(before: Counter, after: Counter) -> dict[str, list[int]]:
    steps: dict[str, list[int]] = {}
    for (step, lead), n in sorted((after - before).items()):
        steps.setdefault(step, []).extend([lead] * n)
    return steps


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_webinar_from_invitation_to_follow_up_each_email_once(
    airflow_db, webinar_env, marketing_db_env, funnelflow_home
):
    from airflow.dag_processing.dagbag import DagBag

    platform = webinar_env
    engine = make_engine(marketing_db_env)
    consent = [("granted", WAVES[0] - timedelta(days=30))]
    with engine.begin() as conn:
        ada, bo, cy, di, eve = (add_person(conn, f"{n}@example.org", n.title(), consent) for n in NAMES)
        conn.execute(sa.update(leads).where(leads.c.id == eve).values(lifecycle_stage="customer"))
    dag = DagBag(dag_folder=str(REPO / "dags" / "webinars.py")).get_dag("webinars")
    seen: Counter = Counter()

    def run(at: datetime) -> dict[str, list[int]]:
        nonlocal seen
        for _ in range(2):  # the second run is a rerun of the same run: it sends nothing more
            assert dag.test(logical_date=at).state == "success"
        before, seen = seen, _sent(engine)
        assert set(seen.values()) <= {1}  # nobody ever got one step's email twice
        return _new(before, seen)

    assert run(WAVES[0] - timedelta(hours=1)) == {}  # the webinar is synced; no wave due yet
    # Wave 1: the segment (leads, not the customer).
    assert run(WAVES[0] + timedelta(minutes=5)) == {"invitation:0": [ada, bo, cy, di]}

    # Ada, Bo and Cy press Register on their invitation's page (capacity 2: Cy waits).
    client = TestClient(create_standalone_app(engine))
    for lead in (ada, bo, cy):
        url = f"{MOUNT_PATH}/webinars/r/{invitation_token('rp', lead)}"
        assert client.get(url).status_code == 200
        assert client.post(url).status_code == 200
    client.close()
    assert _statuses(engine) == {ada: "registered", bo: "registered", cy: "waitlisted"}
    assert run(WAVES[0] + timedelta(hours=2)) == {"registered": [ada, bo], "waitlisted": [cy]}

    # Wave 2 goes only to who has not registered.
    assert run(WAVES[1] + timedelta(minutes=5)) == {"invitation:1": [di]}
    assert run(STARTS - timedelta(hours=23)) == {"reminder-24h": [ada, bo]}
    assert run(STARTS - timedelta(minutes=50)) == {"reminder-1h": [ada, bo]}

    # The platform's report: Ada stayed (rejoined once), Bo looked in for 4 minutes.
    platform.add("ada@example.org", "Ada", STARTS.isoformat(), 25 * 60)
    platform.add("ada@example.org", "Ada", (STARTS + timedelta(minutes=30)).isoformat(), 15 * 60)
    platform.add("bo@example.org", "Bo", STARTS.isoformat(), 4 * 60)
    assert run(ENDS + timedelta(minutes=10)) == {}  # too early: the report is not complete yet
    assert len(platform.requests) == 0
    assert run(ENDS + timedelta(minutes=45)) == {
        "followup-attended": [ada],
        "followup-no-show": [bo],
        "followup-waitlist": [cy],
    }
    assert _statuses(engine) == {ada: "attended", bo: "no_show", cy: "waitlisted"}
    assert len(platform.requests) == 1  # the report was read once, not on the rerun
    assert run(ENDS + timedelta(hours=3)) == {}
    assert len(list((funnelflow_home / "outbox").glob("*.eml"))) == sum(seen.values())  # the mail itself
    engine.dispose()


NAMES = ("ada", "bo", "cy", "di", "eve")


def _statuses(engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(
            conn.execute(sa.select(webinar_registrations.c.lead_id, webinar_registrations.c.status)).all()
        )
