"""The stack tests' shared parts: the stack's ports and files, and the REST API calls the tests make."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.factories import REPO
from tests.fakes.sendgrid_standin import StandIn
from tests.fakes.sendgrid_webhook import WebhookSigner

RUN_TIMEOUT_S = 600.0


HTTP_TIMEOUT_S = 60.0  # a loaded 2-core machine can keep the api-server busy for seconds


PORTS = {"api": 18080, "public": 18000, "scheduler_health": 18974}


SENDGRID_KEY = "SG.stack-test-key"


# A worker that stops heartbeating is found this fast (Airflow's default is 300 s): the crash test.
HEARTBEAT_TIMEOUT_S = 20


AB_CAMPAIGN, CRASH_CAMPAIGN, WEBINAR = "stack-ab", "stack-crash", "stack-webinar"


AB_SUBJECTS = {"a": "Stack test: what shipped", "b": "Stack test: five things we shipped"}


CRASH_SUBJECT = "Stack test: the send the worker dies in"


def write_config(folder: Path, now: datetime) -> None:
    """``config/`` as it is, plus the test's two campaigns and a webinar three hours after ``now``.

    The campaigns are scheduled once, years ahead: the test triggers them through the API (a
    cron schedule would also run its latest past time the moment the DAG is unpaused). The
    webinar replaces the seed's webinars, so the reminders are the test's own.
    """
    shutil.copytree(REPO / "config", folder)
    for seeded in (folder / "webinars").glob("*.yaml"):
        seeded.unlink()
    body = '# Stack test\n\nA short note.\n\n[Read more](https://example.com/stack "button")\n'
    common = (
        "owner: marketing-ops\nkind: newsletter\n"
        'schedule: {once: "2030-01-01T09:00:00+00:00", timezone: UTC}\n'
        "audience:\n  all:\n    - lifecycle_stage: [lead, mql, sql]\n"
    )
    (folder / "campaigns" / f"{AB_CAMPAIGN}.md").write_text(body)
    (folder / "campaigns" / f"{AB_CAMPAIGN}.yaml").write_text(
        "name: Stack test A/B\ndescription: Two subjects, the winner for the rest\n"
        + common
        + f"content: {{template: newsletter, markdown: {AB_CAMPAIGN}.md}}\n"
        + f'subject:\n  a: "{AB_SUBJECTS["a"]}"\n  b: "{AB_SUBJECTS["b"]}"\n'
        + "ab_test: {share: 0.4, wait_hours: 1, metric: clicks, min_per_variant: 1}\n"
    )
    (folder / "campaigns" / f"{CRASH_CAMPAIGN}.md").write_text(body)
    (folder / "campaigns" / f"{CRASH_CAMPAIGN}.yaml").write_text(
        "name: Stack test crash\ndescription: One subject, sent while the worker is killed\n"
        + common
        + f"content: {{template: newsletter, markdown: {CRASH_CAMPAIGN}.md}}\n"
        + f'subject: "{CRASH_SUBJECT}"\n'
    )
    starts = (now + timedelta(hours=3)).replace(second=0, microsecond=0, tzinfo=None)
    (folder / "webinars" / f"{WEBINAR}.yaml").write_text(
        "title: Stack test webinar\ndescription: Starts three hours after the test began.\n"
        f'starts_at: "{starts.isoformat()}"\ntimezone: UTC\nduration_minutes: 45\n'
        "join_url: https://zoom.example.com/j/1\ncapacity: 50\nhost: Test Host\n"
    )


class Stack:
    def __init__(self, home: Path, standin: StandIn, signer: WebhookSigner) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.home = home
        self.env = dict(os.environ)
        self.env.update(
            {
                "FUNNELFLOW_HOME": str(home),
                "FUNNELFLOW_STACK_AIRFLOW_DB": f"ff_stack_airflow_{suffix}",
                "FUNNELFLOW_STACK_MARKETING_DB": f"ff_stack_marketing_{suffix}",
                "FUNNELFLOW_STACK_API_PORT": str(PORTS["api"]),
                "FUNNELFLOW_STACK_PUBLIC_PORT": str(PORTS["public"]),
                "FUNNELFLOW_STACK_SCHEDULER_HEALTH_PORT": str(PORTS["scheduler_health"]),
                "FUNNELFLOW_STACK_REDIS": "redis://127.0.0.1:6379/9",
            }
        )
        for name in [k for k in self.env if k.startswith("AIRFLOW")]:
            del self.env[name]
        self.config = home / "config"
        self.standin, self.signer = standin, signer
        self.env.update(
            {
                "FUNNELFLOW_CONFIG_DIR": str(self.config),
                "FUNNELFLOW_EMAIL_TRANSPORT": "sendgrid",
                "AIRFLOW_CONN_SENDGRID_DEFAULT": json.dumps(
                    {"conn_type": "http", "host": standin.base_url, "password": SENDGRID_KEY}
                ),
                "FUNNELFLOW_SENDGRID_WEBHOOK_PUBLIC_KEY": signer.public_key,
                "FUNNELFLOW_POSTAL_ADDRESS": "Funnelflow Stack Test, 1 Test Road, Testville",
                "FUNNELFLOW_EMAIL_CAP": "50",  # the test sends the same people several campaigns
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
                "FUNNELFLOW_TASK_RETRY_DELAY_S": "5",  # the killed send's retry, without a minute's wait
            }
        )
        self.api = f"http://127.0.0.1:{PORTS['api']}"
        self.public = f"http://127.0.0.1:{PORTS['public']}/funnelflow"

    def run(self, *command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "funnelflow_airflow.stack", *command],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )

    def marketing_engine(self) -> sa.Engine:
        from funnelflow_airflow.stack import PG_ADMIN_URL

        url = sa.make_url(PG_ADMIN_URL).set(
            drivername="postgresql+psycopg", database=self.env["FUNNELFLOW_STACK_MARKETING_DB"]
        )
        return sa.create_engine(url, poolclass=sa.NullPool)

    def drop_databases(self) -> None:
        from funnelflow_airflow.stack import PG_ADMIN_URL

        admin = sa.create_engine(
            sa.make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            for key in ("FUNNELFLOW_STACK_AIRFLOW_DB", "FUNNELFLOW_STACK_MARKETING_DB"):
                conn.execute(sa.text(f'drop database if exists "{self.env[key]}" with (force)'))
        admin.dispose()


def process_is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def wait_for(what: str, probe, timeout_s: float = RUN_TIMEOUT_S, every_s: float = 1.0):
    """Polls ``probe`` until it returns a truthy value; fails with ``what`` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := probe():
            return value
        time.sleep(every_s)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


def runs(api: httpx.Client, dag_id: str) -> list[dict]:
    resp = api.get(f"/dags/{dag_id}/dagRuns", params={"order_by": "-run_after"})
    resp.raise_for_status()
    return resp.json()["dag_runs"]


def unpause(api: httpx.Client, *dag_ids: str, paused: bool = False) -> None:
    for dag_id in dag_ids:
        api.patch(f"/dags/{dag_id}", json={"is_paused": paused}).raise_for_status()


def pause(api: httpx.Client, *dag_ids: str) -> None:
    """No more scheduled runs of these (a test is done with them; none is running when the worker dies)."""
    unpause(api, *dag_ids, paused=True)


def trigger(api: httpx.Client, dag_id: str, conf: dict | None = None, logical_date: str | None = None) -> str:
    """A manual run through the API (the DAG unpaused first); its run id."""
    unpause(api, dag_id)
    resp = api.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": logical_date, "conf": conf or {}})
    assert resp.status_code == 200, f"triggering {dag_id}: {resp.status_code} {resp.text}"
    return resp.json()["dag_run_id"]


def task_instances(api: httpx.Client, dag_id: str, run_id: str) -> dict[str, dict]:
    resp = api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
    resp.raise_for_status()
    return {ti["task_id"]: ti for ti in resp.json()["task_instances"]}


def task_log(api: httpx.Client, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
    """A try's log through the API, as text (the last 60 lines)."""
    resp = api.get(
        f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
        params={"full_content": True},
        headers={"Accept": "application/json"},
    )
    if resp.status_code != 200:
        return f"(no log: {resp.status_code} {resp.text[:200]})"
    content = resp.json().get("content")
    lines = (
        [c.get("event", "") if isinstance(c, dict) else str(c) for c in content]
        if isinstance(content, list)
        else str(content).splitlines()
    )
    return "\n".join(lines[-60:])


def explain_run(api: httpx.Client, dag_id: str, run_id: str) -> str:
    """The run's task states and the logs of the tasks that did not succeed: what a failure message shows."""
    tis = task_instances(api, dag_id, run_id)
    out = [f"{dag_id} {run_id}: " + ", ".join(f"{t}={ti['state']}" for t, ti in sorted(tis.items()))]
    for task_id, ti in sorted(tis.items()):
        if ti["state"] in ("failed", "upstream_failed", "up_for_retry") or (
            ti["state"] == "success" and ti["try_number"] > 1
        ):
            for n in range(1, ti["try_number"] + 1):
                out.append(f"--- {task_id} try {n} ---\n{task_log(api, dag_id, run_id, task_id, n)}")
    return "\n".join(out)


def wait_run(api: httpx.Client, dag_id: str, run_id: str, timeout_s: float = RUN_TIMEOUT_S) -> dict:
    """Polls the run until it succeeded; a failed run (or the timeout) fails the test with the task logs."""

    def finished():
        run = api.get(f"/dags/{dag_id}/dagRuns/{run_id}").json()
        if run["state"] == "failed":
            pytest.fail(f"{dag_id} run failed:\n{explain_run(api, dag_id, run_id)}")
        return run if run["state"] == "success" else None

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if run := finished():
            return run
        time.sleep(1.0)
    pytest.fail(f"{dag_id} run not done after {timeout_s:.0f} s:\n{explain_run(api, dag_id, run_id)}")


def xcom(api: httpx.Client, dag_id: str, run_id: str, task_id: str):
    resp = api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value")
    resp.raise_for_status()
    return resp.json()["value"]


def messages(standin: StandIn) -> list[dict]:
    """Every message the stand-in accepted: one per personalization, with its ledger id and subject."""
    out = []
    for recorded in list(standin.sent):
        body = recorded.body
        for p in body["personalizations"]:
            args = {**(body.get("custom_args") or {}), **(p.get("custom_args") or {})}
            subject = p.get("subject") or body.get("subject") or ""
            for key, value in (p.get("substitutions") or {}).items():
                subject = subject.replace(key, value)
            for to in p["to"]:
                out.append(
                    {
                        "email": to["email"],
                        "send_id": args.get("send_id"),
                        "campaign_id": args.get("campaign_id"),
                        "subject": subject,
                        "body": json.dumps(body["content"]) + json.dumps(p.get("substitutions") or {}),
                    }
                )
    return out
