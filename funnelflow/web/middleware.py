"""Two things every answer of the public app gets, whatever route (or failure) produced it.

``SecurityHeaders`` adds one set of security headers to every response: the
pages load nothing from elsewhere, nothing is sniffed, cached, framed or
indexed, and no Referer leaks a token. ``ContainErrors`` turns an unexpected
exception into a plain 500 and logs it without any message text: database
errors quote the failing row (``DETAIL: Failing row contains ...``) and
SQLAlchemy quotes the bound parameters, so a message could hold a submitter's
address or name. The log line names the exception types, the SQLSTATE and where
in the code it happened, which is enough to find the fault.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

log = logging.getLogger("funnelflow.web")

SECURITY_HEADERS: dict[str, str] = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}
_ENCODED = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()]


class _HttpMiddleware:
    """ASGI middleware for HTTP requests (``handle``); anything else (lifespan) passes through untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: dict, receive: Any, send: Any) -> None:
        raise NotImplementedError


class SecurityHeaders(_HttpMiddleware):
    """ASGI middleware: the security headers on every HTTP response (a route's own value wins)."""

    async def handle(self, scope: dict, receive: Any, send: Any) -> None:
        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((k, v) for k, v in _ENCODED if k not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def describe_error(exc: BaseException) -> str:
    """The exception chain as types, SQLSTATEs and code locations, with no message text."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = f"{type(current).__module__}.{type(current).__qualname__}"
        orig = getattr(current, "orig", None)  # SQLAlchemy's wrapper of the driver's error
        sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        if sqlstate:
            name += f" (SQLSTATE {sqlstate})"
        frames = traceback.extract_tb(current.__traceback__)
        where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames))
        parts.append(f"{name} at {where or '?'}")
        current = current.__cause__ or current.__context__
    return "; caused by ".join(parts)


class ContainErrors(_HttpMiddleware):
    """ASGI middleware: an unexpected exception becomes a 500 and one log line without its message."""

    async def handle(self, scope: dict, receive: Any, send: Any) -> None:
        started = False

        async def send_tracking(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:  # noqa: BLE001 - the last line of defence; the log says what it was
            endpoint = getattr(scope.get("endpoint"), "__name__", "?")  # never the path: it may hold a token
            log.error("unhandled error in %s %s: %s", scope.get("method"), endpoint, describe_error(exc))
            if started:  # too late for a 500: end the response as it is
                return
            body = b'{"detail":"internal error"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
