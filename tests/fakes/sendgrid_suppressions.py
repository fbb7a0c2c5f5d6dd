"""A local stand-in for SendGrid's suppression list API (GET /v3/suppression/{list}), on 127.0.0.1.

Checks requests as the real service does (from SendGrid's published
suppressions spec): a ``Bearer`` API key (401 otherwise, with SendGrid's error
body), ``Accept: application/json``, only the documented query parameters,
integer ``start_time``/``end_time`` (inclusive bounds on ``created``), ``limit``
1..500 and ``offset`` >= 0 (400 otherwise). Entries are served newest first, a
page at a time. ``queue_failure(status, reset=...)`` makes the next request
fail (429 with ``X-RateLimit-Reset``, 5xx). Every request is recorded.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

LISTS = ("bounces", "blocks", "spam_reports", "invalid_emails", "unsubscribes")
QUERY_PARAMS = {"start_time", "end_time", "limit", "offset", "email"}


@dataclass
class Recorded:
    path: str
    query: dict[str, str]
    status: int


@dataclass
class SuppressionStandIn:
    api_key: str = "SG.test-key"
    lists: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {name: [] for name in LISTS})
    requests: list[Recorded] = field(default_factory=list)
    _failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    def add(self, name: str, **entry: Any) -> None:
        self.lists[name].append(entry)

    def queue_failure(self, status: int, reset: int | None = None) -> None:
        headers = {"X-RateLimit-Reset": str(reset)} if reset is not None else {}
        self._failures.append((status, headers))

    # -- serving

    def start(self) -> str:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet: tests read .requests instead
                pass

            def do_GET(self):
                status, body, headers = standin._answer(self.path, self.headers)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, raw_path: str, headers) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}

        def done(status: int, body: Any, extra: dict[str, str] | None = None):
            self.requests.append(Recorded(parts.path, query, status))
            return status, body, extra or {}

        def error(status: int, message: str, field_name: str | None = None):
            return done(status, {"errors": [{"field": field_name, "message": message}]})

        if headers.get("Authorization") != f"Bearer {self.api_key}":
            return error(401, "authorization required")
        if self._failures:
            status, extra = self._failures.pop(0)
            return done(status, {"errors": [{"field": None, "message": "queued failure"}]}, extra)
        prefix = "/v3/suppression/"
        name = parts.path[len(prefix) :] if parts.path.startswith(prefix) else None
        if name not in LISTS:
            return error(404, "resource not found")
        if "application/json" not in (headers.get("Accept") or ""):
            return error(406, "Accept: application/json is required", "Accept")
        unknown = set(query) - QUERY_PARAMS
        if unknown:
            return error(400, f"unknown query parameter {sorted(unknown)[0]}", sorted(unknown)[0])
        ints: dict[str, int] = {}
        for key in ("start_time", "end_time", "limit", "offset"):
            if key in query:
                try:
                    ints[key] = int(query[key])
                except ValueError:
                    return error(400, f"{key} must be an integer", key)
        limit = ints.get("limit", 500)
        offset = ints.get("offset", 0)
        if not 1 <= limit <= 500:
            return error(400, "limit must be between 1 and 500", "limit")
        if offset < 0:
            return error(400, "offset must be at least 0", "offset")
        start, end = ints.get("start_time"), ints.get("end_time")
        if start is not None and end is not None and start > end:
            return error(400, "start_time must not be after end_time", "start_time")
        entries = [
            e
            for e in self.lists[name]
            if (start is None or e["created"] >= start) and (end is None or e["created"] <= end)
        ]
        entries.sort(key=lambda e: (-e["created"], e["email"]))
        return done(200, entries[offset : offset + limit])
