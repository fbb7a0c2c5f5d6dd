"""Compatibility only: these helpers moved to tests/factories.py. tests/test_status.py still imports them
from here; delete this folder once it imports from tests.factories."""

from tests.factories import T0, add_consent, add_lead, add_send  # noqa: F401
