"""How to reach the outside services funnelflow talks to, as plain data.

The Airflow side (``funnelflow_airflow.connections``) fills these from Airflow
connections; the domain code only ever sees these objects, never a connection,
so it runs and is tested without Airflow.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SendGridSettings:
    """SendGrid's v3 API: the key, and a base URL that replaces SendGrid's own (sandboxes, tests)."""

    api_key: str
    base_url: str | None = None  # None: https://api.sendgrid.com

    def __repr__(self) -> str:  # the key never reaches a log line through repr()
        return f"SendGridSettings(api_key='***', base_url={self.base_url!r})"


@dataclass(frozen=True)
class HttpApiSettings:
    """An HTTP API reached with a bearer token: the enrichment API, an ad platform's lead-form API."""

    base_url: str
    token: str
    timeout: float = 30.0
    attempts: int = 4

    def __repr__(self) -> str:
        return (
            f"HttpApiSettings(base_url={self.base_url!r}, token='***', "
            f"timeout={self.timeout}, attempts={self.attempts})"
        )
