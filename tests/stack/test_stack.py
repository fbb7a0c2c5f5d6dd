"""The funnel under Airflow's own scheduler on the CeleryExecutor (``make test-stack``).

Starts ``python -m funnelflow_airflow.stack`` (every part its own process, on the
machine's PostgreSQL and Redis), then works only through Airflow's REST API (v2, with a
token from the auth endpoint), the public app and the SendGrid stand-ins, as a user would:

- the DAG folder loads with no import errors;
- a messy lead file dropped in the inbox and web-form posts, then ``lead_ingestion``
  triggered through the API, run on the Celery worker; ``lead_qualification`` starts
  because of the asset event ingestion emitted, and ``sales_handoff`` because of
  qualification's;
- the double opt-in confirmations reach SendGrid, a person confirms through the link,
  and the welcome follows;
- a campaign's A/B test waits in the triggerer (the task instance is seen ``deferred``),
  then the remainder gets the winning subject;
- a webinar starting soon: a registration on the public page, its reminder reaches SendGrid;
- the weekly report for a past week passes its data-quality checks and reaches SendGrid;
- the Celery worker is killed while SendGrid holds a request of a campaign's send; after
  the restart the task's retry ends ``success`` and nobody got an email twice;
- the marketing database accounts for what was put in: each file row a lead or a reject
  with its reason, each send in the ledger one message at SendGrid and back;
- ``stack stop`` ends exactly the processes ``stack start`` recorded.

Not part of ``make test`` (it takes minutes); ``.ci/run`` runs it after.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from funnelflow.identity import email_hash, email_key
from tests.factories import REPO
from tests.stack.helpers import (
    AB_CAMPAIGN,
    AB_SUBJECTS,
    CRASH_CAMPAIGN,
    CRASH_SUBJECT,
    HEARTBEAT_TIMEOUT_S,
    HTTP_TIMEOUT_S,
    PORTS,
    WEBINAR,
    Stack,
    explain_run,
    messages,
    pause,
    runs,
    task_instances,
    trigger,
    unpause,
    wait_for,
    wait_run,
    xcom,
)

pytestmark = pytest.mark.stack

ROWS = 300
FORMS = [
    {"email": f"stack.form{i}@example.org", "first_name": "Form", "consent": True, "utm_source": "stack"}
    for i in range(3)
]
FORMS[2]["page_url"] = "https://example.com/demo"  # a demo request: straight to sales (sql_rules)


def query(stack: Stack, sql: str, **params) -> list[sa.Row]:
    engine = stack.marketing_engine()
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).all()
    finally:
        engine.dispose()


def test_dag_folder_loads_without_import_errors(stack: Stack, api: httpx.Client) -> None:
    errors = api.get("/importErrors").json()
    assert errors["total_entries"] == 0, errors
    dags = {d["dag_id"] for d in api.get("/dags", params={"limit": 100}).json()["dags"]}
    # One DAG per file, named after it; dags/campaigns.py makes one per campaign file instead.
    expected = {p.stem for p in (REPO / "dags").glob("*.py") if not p.name.startswith("_")} - {"campaigns"}
    expected |= {f"campaign_{p.stem}" for p in (stack.config / "campaigns").glob("*.yaml")}
    assert {f"campaign_{AB_CAMPAIGN}", f"campaign_{CRASH_CAMPAIGN}"} <= expected
    assert expected <= dags


@pytest.fixture(scope="module")
def ingested(stack: Stack, api: httpx.Client) -> Path:
    """The lead file and the form posts, through ingestion; the file's path.

    The runs that need nothing from ingestion start at the same time (the worker runs four
    tasks at once): the weekly report of a past week and the webinars' sync.
    """
    inbox = stack.home / "inbox" / "leads"
    inbox.mkdir(parents=True, exist_ok=True)
    kept = stack.home / "tradeshow-stack-test.csv"  # a copy: ingestion archives the inbox's file
    subprocess.run(
        [sys.executable, "-m", "funnelflow", "synth", "files", "--rows", str(ROWS), "--out", str(kept)]
        + ["--seed", "11", "--repeat-rate", "0.05", "--broken-rate", "0.05"],
        env=stack.env,
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    (inbox / kept.name).write_bytes(kept.read_bytes())
    for form in FORMS:
        posted = httpx.post(f"{stack.public}/leads", json=form, timeout=HTTP_TIMEOUT_S)
        assert posted.status_code == 202, posted.text
    unpause(api, "lead_qualification", "sales_handoff")
    run_id = trigger(api, "lead_ingestion")
    today = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    last_monday = today - timedelta(days=today.weekday() + 7)
    STARTED["weekly_funnel_report"] = trigger(
        api, "weekly_funnel_report", logical_date=last_monday.isoformat()
    )
    STARTED["webinars"] = trigger(api, "webinars")
    wait_run(api, "lead_ingestion", run_id)
    return kept


STARTED: dict[str, str] = {}  # dag id -> the run the ingestion fixture started alongside


def test_ingestion_on_the_celery_worker_triggers_qualification_then_handoff_by_asset(
    stack: Stack, api: httpx.Client, ingested: Path
) -> None:
    def asset_run(dag_id: str):
        def probe():
            asset_runs = [r for r in runs(api, dag_id) if r["run_type"] == "asset_triggered"]
            if asset_runs and asset_runs[0]["state"] == "failed":
                pytest.fail(f"{dag_id} failed:\n{explain_run(api, dag_id, asset_runs[0]['dag_run_id'])}")
            return asset_runs and asset_runs[0]["state"] == "success" and asset_runs[0]

        return probe

    qualified = wait_for(
        "lead_qualification to run because of the ingestion's asset event", asset_run("lead_qualification")
    )
    assert qualified["triggered_by"] == "asset"
    announced = task_instances(api, "lead_qualification", qualified["dag_run_id"])["announce_sales_qualified"]
    assert announced["state"] == "success", explain_run(api, "lead_qualification", qualified["dag_run_id"])
    handoff = wait_for("sales_handoff to run because qualification made SQLs", asset_run("sales_handoff"))
    pause(api, "lead_ingestion", "lead_qualification", "sales_handoff")
    assert handoff["triggered_by"] == "asset"
    assert handoff["start_date"] >= announced["start_date"]  # started by what qualification announced

    counts = [r[0] for r in query(stack, "select counts from ingest_files")]
    [receipt] = [c if isinstance(c, dict) else json.loads(c) for c in counts]
    accounted = receipt["inserted"] + receipt["updated"] + receipt["rejected"] + receipt["duplicates"]
    assert accounted == receipt["rows_in"] == ROWS
    [(form_touches,)] = query(stack, "select count(*) from touchpoints where channel = 'web_form'")
    assert form_touches == len(FORMS)
    [(queued,)] = query(stack, "select count(*) from sales_queue")
    assert queued > 0


def test_funnel_page_behind_airflow_login(stack: Stack, api: httpx.Client) -> None:
    page = f"{stack.api}/funnelflow-ui/"
    token = api.headers["Authorization"]
    logged_in = httpx.get(page, headers={"Authorization": token}, timeout=HTTP_TIMEOUT_S)
    assert logged_in.status_code == 200 and "Leads by stage" in logged_in.text
    assert "signed in as admin" in logged_in.text
    as_cookie = httpx.get(page, cookies={"_token": token.removeprefix("Bearer ")}, timeout=HTTP_TIMEOUT_S)
    assert as_cookie.status_code == 200  # what the UI's iframe sends
    anonymous = httpx.get(page, timeout=HTTP_TIMEOUT_S)
    assert anonymous.status_code == 401 and "Leads by stage" not in anonymous.text
    forged = httpx.get(page, headers={"Authorization": "Bearer not.a.token"}, timeout=HTTP_TIMEOUT_S)
    assert forged.status_code in (401, 403) and "Leads by stage" not in forged.text
    views = [v for p in api.get("/plugins").json()["plugins"] for v in p.get("external_views", [])]
    assert any(v["name"] == "Funnel" and v["href"] == "/funnelflow-ui/" for v in views)
    public = httpx.get(f"http://127.0.0.1:{PORTS['public']}/funnelflow-ui/", timeout=HTTP_TIMEOUT_S)
    assert public.status_code == 404


def test_double_opt_in_then_welcome_reach_sendgrid(stack: Stack, api: httpx.Client, ingested: Path) -> None:
    wait_run(api, "welcome_emails", trigger(api, "welcome_emails"))
    forms = {f["email"] for f in FORMS}
    confirmations = [m for m in messages(stack.standin) if m["email"] in forms and "/confirm/" in m["body"]]
    assert sorted(m["email"] for m in confirmations) == sorted(forms)  # one each

    # One person confirms through the link in their email (the page's form posts back to it).
    first = next(m for m in confirmations if m["email"] == FORMS[0]["email"])
    link = re.search(r"https?://[^\"'\s<>]*/confirm/[A-Za-z0-9._~-]+", first["body"]).group(0)
    path = link.split("/funnelflow", 1)[1]
    page = httpx.get(f"{stack.public}{path}", timeout=HTTP_TIMEOUT_S)
    assert page.status_code == 200 and "<form" in page.text
    confirmed = httpx.post(f"{stack.public}{path}", timeout=HTTP_TIMEOUT_S)
    assert confirmed.status_code == 200, confirmed.text

    wait_run(api, "welcome_emails", trigger(api, "welcome_emails"))
    pause(api, "welcome_emails")
    to_first = [m for m in messages(stack.standin) if m["email"] == FORMS[0]["email"]]
    welcomes = [m for m in to_first if "/confirm/" not in m["body"]]
    assert len(welcomes) == 1, [m["subject"] for m in to_first]
    others = [m for m in messages(stack.standin) if m["email"] in forms - {FORMS[0]["email"]}]
    assert all("/confirm/" in m["body"] for m in others)  # unconfirmed: no welcome


def test_ab_campaign_waits_in_the_triggerer_then_sends_the_remainder(
    stack: Stack, api: httpx.Client, ingested: Path
) -> None:
    dag_id = f"campaign_{AB_CAMPAIGN}"
    wait_hours = 0.005  # 18 s: long enough to see the task deferred (polled twice a second), short for CI
    run_id = trigger(api, dag_id, conf={"wait_hours": wait_hours})
    seen: list[dict] = []

    def deferred_then_done():
        ti = task_instances(api, dag_id, run_id).get("wait_for_results")
        if ti is not None and ti["state"] == "deferred":
            seen.append(ti)
        run = api.get(f"/dags/{dag_id}/dagRuns/{run_id}").json()
        if run["state"] == "failed":
            pytest.fail(f"{dag_id} failed:\n{explain_run(api, dag_id, run_id)}")
        return run["state"] == "success"

    wait_for(f"{dag_id} to finish", deferred_then_done, every_s=0.5)
    pause(api, dag_id)
    assert seen, "wait_for_results was never seen deferred: the wait did not go to the triggerer"
    assert "DateTimeTrigger" in seen[0]["trigger"]["classpath"]
    # A triggerer took the trigger (it is assigned within seconds of the deferral).
    assert any(ti["triggerer_job"] or ti["trigger"].get("triggerer_id") for ti in seen), seen[-1]
    tis = task_instances(api, dag_id, run_id)
    waited = tis["wait_for_results"]
    assert waited["state"] == "success" and waited["try_number"] == 1  # resumed, not retried
    plan = xcom(api, dag_id, run_id, "resolve_audience")
    decide_at = datetime.fromisoformat(plan["decide_at"])
    assert datetime.fromisoformat(tis["send_remainder"]["start_date"]) >= decide_at

    sent = [m for m in messages(stack.standin) if m["campaign_id"] == AB_CAMPAIGN]
    test_cells, remainder = (
        sum(v["sent"] for v in xcom(api, dag_id, run_id, task)["variants"].values())
        for task in ("send_test_cells", "send_remainder")
    )
    winner = xcom(api, dag_id, run_id, "pick_winner")["winner"]
    assert test_cells > 0 and remainder > 0
    assert len(sent) == test_cells + remainder == plan["sendable"]
    assert len({m["email"] for m in sent}) == len(sent)  # one each
    # Each variant's subject as many times as the ledger has it; the remainder all got the winner's.
    variants = dict(
        query(
            stack,
            "select variant, count(*) from email_sends where campaign_id = :c and status = 'sent' "
            "group by variant",
            c=AB_CAMPAIGN,
        )
    )
    assert set(variants) == {"a", "b"}, variants
    assert Counter(m["subject"] for m in sent) == {AB_SUBJECTS[v]: n for v, n in variants.items()}
    assert variants[winner] > remainder and variants[winner] - remainder < test_cells


def test_webinar_reminder_reaches_sendgrid(stack: Stack, api: httpx.Client, ingested: Path) -> None:
    wait_run(api, "webinars", STARTED["webinars"])  # the webinars table follows the files
    person = {"email": "stack.webinar@example.org", "first_name": "Wen", "consent": "true"}
    page = httpx.post(f"{stack.public}/webinars/{WEBINAR}/register", data=person, timeout=HTTP_TIMEOUT_S)
    assert page.status_code == 200, page.text
    [(status,)] = query(
        stack,
        "select r.status from webinar_registrations r join webinars w on w.id = r.webinar_id "
        "join leads l on l.id = r.lead_id where w.slug = :slug and l.email = :email",
        slug=WEBINAR,
        email=person["email"],
    )
    assert status == "registered"

    wait_run(api, "webinars", trigger(api, "webinars"))
    pause(api, "webinars")
    reminders = query(
        stack,
        "select id, message_key, status from email_sends where template = 'webinar_reminder' "
        "and recipient_hash = :h",
        h=email_hash(person["email"]),
    )
    assert [status for _, _, status in reminders] == ["sent"], reminders
    at_sendgrid = {m["send_id"]: m for m in messages(stack.standin) if m["email"] == person["email"]}
    reminder = at_sendgrid[str(reminders[0][0])]
    assert reminder["campaign_id"] == WEBINAR
    assert "Stack test webinar" in reminder["subject"] + reminder["body"]


def test_weekly_report_for_a_past_week_passes_its_checks_and_reaches_sendgrid(
    stack: Stack, api: httpx.Client, ingested: Path
) -> None:
    run_id = STARTED["weekly_funnel_report"]  # the Monday a week before this one's: a past week
    wait_run(api, "weekly_funnel_report", run_id)
    pause(api, "weekly_funnel_report")
    tis = task_instances(api, "weekly_funnel_report", run_id)
    checks = {t: ti["state"] for t, ti in tis.items() if t.startswith("check_")}
    served = api.get("/dags/weekly_funnel_report/tasks").json()["tasks"]
    every_check = {task["task_id"] for task in served if task["task_id"].startswith("check_")}
    assert every_check and set(checks) == every_check, checks  # every data-quality check ran
    assert set(checks.values()) == {"success"}, checks
    week = xcom(api, "weekly_funnel_report", run_id, "compute_metrics")
    report_key = f"weekly_funnel_report:{week}"
    stakeholders = ["marketing-lead@example.com", "sales-lead@example.com", "ops@example.com"]
    rows = query(
        stack, "select id, recipient_hash, status from email_sends where message_key = :k", k=report_key
    )
    assert sorted((h, status) for _, h, status in rows) == sorted(
        (email_hash(e), "sent") for e in stakeholders
    )
    at_sendgrid = {m["send_id"]: m for m in messages(stack.standin)}
    got = [at_sendgrid[str(i)] for i, _, _ in rows]
    assert sorted(m["email"] for m in got) == sorted(stakeholders)


def test_worker_killed_in_the_middle_of_a_send_nobody_gets_an_email_twice(
    stack: Stack, api: httpx.Client, ingested: Path
) -> None:
    dag_id = f"campaign_{CRASH_CAMPAIGN}"
    held = stack.standin.hold(
        lambda body: any(
            (p.get("custom_args") or {}).get("campaign_id") == CRASH_CAMPAIGN
            for p in body["personalizations"]
        )
    )
    run_id = trigger(api, dag_id)
    wait_for("SendGrid to hold the campaign's request", held.arrived.is_set, every_s=0.2)
    assert CRASH_SUBJECT in json.dumps(held.body)
    assert task_instances(api, dag_id, run_id)["send"]["state"] == "running"
    killed = stack.run("kill", "celery-worker")
    assert killed.returncode == 0, killed.stdout + killed.stderr
    # SendGrid had the whole request: it accepts it (nobody reads the answer) and, as it does within
    # seconds, posts the signed "processed" events naming each message to the webhook.
    held.release.set()
    wait_for("the held request to be recorded", lambda: any(r.body is held.body for r in stack.standin.sent))
    events = [
        {
            "email": to["email"],
            "timestamp": int(datetime.now(UTC).timestamp()),
            "event": "processed",
            "sg_event_id": f"stack-processed-{p['custom_args']['send_id']}",
            "sg_message_id": f"stack{p['custom_args']['send_id']}.filter0001",
            **p["custom_args"],
        }
        for p in held.body["personalizations"]
        for to in p["to"]
    ]
    posted = httpx.post(
        f"{stack.public}/sendgrid/events", **stack.signer.post_args(events), timeout=HTTP_TIMEOUT_S
    )
    assert posted.status_code in (200, 204), posted.text

    restarted = stack.run("start", "celery-worker")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    # The scheduler finds the task without a heartbeat, the retry runs on the new worker.
    run = wait_run(api, dag_id, run_id, timeout_s=HEARTBEAT_TIMEOUT_S + 600)
    tis = task_instances(api, dag_id, run_id)
    assert {t: ti["state"] for t, ti in tis.items()} == {t: "success" for t in tis}, explain_run(
        api, dag_id, run_id
    )
    assert tis["send"]["try_number"] == 2, explain_run(api, dag_id, run_id)
    tries = api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/send/tries").json()["task_instances"]
    states = [t["state"] for t in sorted(tries, key=lambda t: t["try_number"])]
    assert len(states) == 2 and states[0] in ("failed", "up_for_retry") and states[1] == "success", tries
    assert run["state"] == "success"
    pause(api, dag_id)

    sent = [m for m in messages(stack.standin) if m["campaign_id"] == CRASH_CAMPAIGN]
    per_person = Counter(m["email"] for m in sent)
    assert sent and set(per_person.values()) == {1}, per_person.most_common(3)
    ledger = query(
        stack,
        "select status, count(*) from email_sends where campaign_id = :c group by status",
        c=CRASH_CAMPAIGN,
    )
    assert dict(ledger).get("sent") == len(sent) and set(dict(ledger)) <= {"sent", "skipped"}, ledger
    # The retry sent nothing again: what the killed try had handed over, SendGrid's events vouched for.
    retry = xcom(api, dag_id, run_id, "send")["variants"].values()
    assert sum(v["sent"] for v in retry) == 0 and sum(v["unsettled"] for v in retry) == 0, retry
    assert sum(v["already_handled"] for v in retry) == len(sent) == len(held.body["personalizations"])


def test_marketing_database_accounts_for_everything_put_in(
    stack: Stack, api: httpx.Client, ingested: Path
) -> None:
    # Every row of the file (by its line: a quoted field may span lines) is exactly one of: an
    # import touchpoint on a lead (new, or matched by address or phone), a reject with its reason.
    lines = []  # the line each row starts on
    with ingested.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        ended = reader.line_num
        for _ in reader:
            lines.append(ended + 1)
            ended = reader.line_num
    assert len(lines) == ROWS
    imported: dict[int, int] = {}
    for detail, lead_id in query(
        stack,
        "select t.detail, l.id from touchpoints t join leads l on l.id = t.lead_id "
        "where t.channel = 'file_import'",
    ):
        detail = detail if isinstance(detail, dict) else json.loads(detail)
        if detail["file"].endswith(ingested.name):
            assert detail["line"] not in imported, f"line {detail['line']} imported twice"
            imported[detail["line"]] = lead_id
    rejects = dict(
        query(
            stack,
            "select line_number, reason from ingest_rejects where source_file like :f",
            f=f"%{ingested.name}",
        )
    )
    assert not set(imported) & set(rejects), "a row both imported and rejected"
    unaccounted = sorted(set(lines) - set(imported) - set(rejects))
    assert not unaccounted, f"file lines neither a lead's touchpoint nor a reject: {unaccounted[:10]}"
    assert set(imported) | set(rejects) == set(lines)
    assert rejects and all(reason.strip() for reason in rejects.values())
    lead_keys = {k for (k,) in query(stack, "select email_key from leads where email_key is not null")}
    assert {email_key(f["email"]) for f in FORMS} <= lead_keys

    # Every send in the ledger is one message at SendGrid, and every message there is in the ledger.
    at_sendgrid = Counter((m["send_id"], m["email"]) for m in messages(stack.standin))
    assert set(at_sendgrid.values()) == {1}, [k for k, n in at_sendgrid.items() if n > 1][:5]
    assert all(send_id for send_id, _ in at_sendgrid), "a message at SendGrid without its ledger id"
    ledger = {
        str(i): h
        for i, h in query(
            stack, "select id, recipient_hash from email_sends where status in ('sent', 'delivered')"
        )
    }
    assert {send_id: email_hash(email) for send_id, email in at_sendgrid} == ledger
    [(open_claims,)] = query(
        stack, "select count(*) from email_sends where status in ('claimed', 'unsettled')"
    )
    assert open_claims == 0
