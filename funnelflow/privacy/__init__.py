"""Privacy: addresses kept out of places that do not need them, and people forgotten on request.

``redact_addresses`` replaces anything that looks like an email address in a
value (text, or JSON-like data) with ``[address]``; stored bounce texts and
payloads go through it. ``funnelflow.privacy.forget`` forgets a person everywhere
(the ``forget_person`` DAG); ``python -m funnelflow privacy hash`` gives the
hash to ask for without the address ever reaching Airflow.
"""

from __future__ import annotations

import re
from typing import Any

# Something that looks like an address inside any text: stops at spaces, quotes, brackets and the
# separators of CSV lines, URLs and headers.
_NOT_IN_ADDRESS = r"[^\s<>\"'(),;:\[\]|?&=/\\]"
ADDRESS_RE = re.compile(rf"{_NOT_IN_ADDRESS}+@{_NOT_IN_ADDRESS}+\.{_NOT_IN_ADDRESS}+")
PLACEHOLDER = "[address]"


def redact_addresses(value: Any) -> Any:
    """``value`` with every address-like substring replaced by ``[address]`` (dicts and lists walked)."""
    if isinstance(value, str):
        return ADDRESS_RE.sub(PLACEHOLDER, value) if "@" in value else value
    if isinstance(value, dict):
        return {k: redact_addresses(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_addresses(v) for v in value]
    return value
