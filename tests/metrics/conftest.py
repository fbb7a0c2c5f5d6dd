"""The metrics tests send the report through the sending layer: its settings for every test here (the
SendGrid stand-in and sending fixtures live in tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True)
def _email_env(email_env) -> None:
    return None
