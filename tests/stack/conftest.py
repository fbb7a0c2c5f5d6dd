"""The stack the stack tests share: started once per session, stopped (exactly its processes) at the end.

Around it, the edges the stack cannot reach from here, as local stand-ins: SendGrid's
mail/send (``tests.fakes.sendgrid_standin``, pointed at by the ``sendgrid_default``
connection) and SendGrid's signed event webhook (``tests.fakes.sendgrid_webhook``, whose
public key the public app is given). The stack reads its marketing-ops files from a
copy of ``config/`` in its own folder (``FUNNELFLOW_CONFIG_DIR``) with the test's
campaigns and a webinar starting soon added; ``config/`` itself is left alone.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.fakes.sendgrid_standin import StandIn, load_validator
from tests.fakes.sendgrid_webhook import WebhookSigner
from tests.stack.helpers import (
    HTTP_TIMEOUT_S,
    PORTS,
    SENDGRID_KEY,
    Stack,
    process_is_zombie,
    write_config,
)


@pytest.fixture(scope="session")
def sendgrid_standin(sendgrid_spec_path: Path) -> Iterator[StandIn]:
    standin = StandIn(load_validator(sendgrid_spec_path), api_key=SENDGRID_KEY).start()
    yield standin
    for held in standin.holds:
        held.release.set()
    standin.stop()


@pytest.fixture(scope="session")
def stack(sendgrid_standin: StandIn) -> Iterator[Stack]:
    import tempfile

    import redis

    redis.Redis.from_url("redis://127.0.0.1:6379/9").flushdb()  # this test's own broker database
    # Not under pytest's basetemp: another pytest session on the machine may prune that while the
    # stack runs, and the stack's pids.json must outlive every test of this session.
    s = Stack(Path(tempfile.mkdtemp(prefix="ff-stack-test-")), sendgrid_standin, WebhookSigner())
    write_config(s.config, datetime.now(UTC))
    started = s.run("start")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"Airflow UI: http://127.0.0.1:{PORTS['api']}" in started.stdout
        yield s
    finally:
        for held in sendgrid_standin.holds:  # a failed crash test must not leave a request hanging
            held.release.set()
        recorded = json.loads((s.home / "stack" / "pids.json").read_text()) if started.returncode == 0 else {}
        stopped = s.run("stop")
        for name, entry in recorded.items():
            assert not Path(f"/proc/{entry['pid']}").exists() or process_is_zombie(entry["pid"]), (
                f"{name} still running"
            )
        s.drop_databases()
        shutil.rmtree(s.home, ignore_errors=True)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


@pytest.fixture(scope="session")
def api(stack: Stack) -> Iterator[httpx.Client]:
    password = (stack.home / "stack" / "secrets" / "admin_password").read_text().strip()
    token = httpx.post(
        f"{stack.api}/auth/token", json={"username": "admin", "password": password}, timeout=HTTP_TIMEOUT_S
    )
    assert token.status_code == 201, token.text
    with httpx.Client(
        base_url=f"{stack.api}/api/v2",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=HTTP_TIMEOUT_S,
    ) as client:
        yield client
