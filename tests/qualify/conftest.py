"""Fixtures for the qualification tests. Helpers are in tests/qualify/factories.py and tests/factories.py."""

from __future__ import annotations

import pytest

from funnelflow.qualify.rules import Rules, load_rules
from tests.factories import REPO


@pytest.fixture(scope="session")
def rules() -> Rules:
    return load_rules(REPO / "config")
