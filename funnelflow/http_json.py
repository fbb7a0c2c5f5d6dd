"""GET a JSON page from a partner API with retries: one way for every paged HTTP source.

429 and 5xx answers and transport errors are retried with exponential backoff
(``Retry-After`` honoured, capped at a minute); any other answer fails at once with
its status. ``sleep`` is injected so tests assert the waits instead of taking them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

RETRY_STATUSES = {429, 500, 502, 503, 504}


class PartnerAPIError(RuntimeError):
    """The partner API kept failing, or answered something we cannot read."""


def get_json(
    client: httpx.Client,
    url: str,
    params: dict[str, Any],
    headers: dict[str, str],
    *,
    what: str,
    attempts: int,
    backoff_seconds: float,
    sleep: Callable[[float], None],
) -> Any:
    last = ""
    for attempt in range(1, attempts + 1):
        wait = backoff_seconds * 2 ** (attempt - 1)
        try:
            response = client.get(url, params=params, headers=headers)
        except httpx.TransportError as exc:
            last = type(exc).__name__
        else:
            if response.status_code == 200:
                try:
                    return response.json()
                except ValueError:
                    raise PartnerAPIError(f"{what} answered 200 with a body that is not JSON") from None
            if response.status_code not in RETRY_STATUSES:
                raise PartnerAPIError(f"{what} answered {response.status_code}: {response.text[:200]}")
            last = f"HTTP {response.status_code}"
            retry_after = response.headers.get("retry-after", "")
            if retry_after.replace(".", "", 1).isdigit():
                wait = float(retry_after)
        if attempt < attempts:
            sleep(min(wait, 60.0))
    raise PartnerAPIError(f"{what} failed {attempts} times on one page (last: {last})")
