"""Fixtures for the email tests: the sending settings for every test here, the signed webhook, the public app.

The SendGrid stand-in, the fake clock and the send options are in tests/conftest.py (campaigns use them too).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from funnelflow.web.app import MOUNT_PATH, create_standalone_app
from tests.fakes.sendgrid_webhook import WebhookSigner


@pytest.fixture(autouse=True)
def _email_env(email_env) -> None:
    return None


@pytest.fixture(scope="session")
def signer() -> WebhookSigner:
    return WebhookSigner()


@pytest.fixture
def webhook_env(signer: WebhookSigner, monkeypatch: pytest.MonkeyPatch, funnelflow_home) -> WebhookSigner:
    monkeypatch.setenv("FUNNELFLOW_SENDGRID_WEBHOOK_PUBLIC_KEY", signer.public_key)
    monkeypatch.setenv("FUNNELFLOW_SECRET_KEY", "test-secret")
    return signer


@pytest.fixture
def client(engine, webhook_env) -> TestClient:
    return TestClient(create_standalone_app(engine), base_url="http://testserver")


@pytest.fixture
def mount() -> str:
    return MOUNT_PATH
