"""Compatibility only: the sending tests moved to tests/email/, their helpers to tests/factories.py and
their fixtures to tests/conftest.py. tests/campaigns and tests/metrics still import these names from
here; delete this folder once they import from tests.factories (and take the fixtures from tests/conftest.py).
"""

import pytest

from tests.conftest import clock, mail_validator, options, sendgrid, standin  # noqa: F401  (fixtures)
from tests.factories import API_KEY, AS_OF, FakeClock, add_person, suppress  # noqa: F401


@pytest.fixture(autouse=True)
def _email_env(email_env) -> None:
    return None
