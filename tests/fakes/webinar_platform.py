"""A local stand-in for a webinar platform's participants report (Zoom style), as strict as the real one.

``GET /v2/report/webinars/{id}/participants`` with the bearer token; only
``page_size`` (1..300) and ``next_page_token`` (one it issued, for this webinar)
are accepted. Faults on cue: ``fail_page(n, status, times)``.
"""

from __future__ import annotations

import secrets
import threading
from urllib.parse import parse_qs, urlparse

from tests.fakes import JsonHandler, LoopbackServer


class FakeWebinarPlatform(LoopbackServer):
    def __init__(self, token: str = "zoom-token", webinar_id: str = "81234567890") -> None:
        self.token = token
        self.webinar_id = webinar_id
        self.participants: list[dict] = []
        self.requests: list[dict] = []
        self._tokens: dict[str, int] = {}  # issued next_page_token -> offset
        self._faults: dict[int, list[int]] = {}
        self._lock = threading.Lock()
        self._listen(self._handler())

    def add(self, email: str, name: str, join_time: str, seconds: int) -> None:
        self.participants.append(
            {
                "id": secrets.token_hex(4),
                "user_email": email,
                "name": name,
                "join_time": join_time,
                "duration": seconds,
            }
        )

    def fail_page(self, page: int, status: int, times: int = 1) -> None:
        self._faults.setdefault(page, []).extend([status] * times)

    def _handler(self):
        fake = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                url = urlparse(self.path)
                query = parse_qs(url.query, keep_blank_values=True)
                fake.requests.append({"path": url.path, "query": {k: v[-1] for k, v in query.items()}})
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self._send(401, {"code": 124, "message": "Invalid access token."})
                if url.path != f"/v2/report/webinars/{fake.webinar_id}/participants":
                    return self._send(404, {"code": 3001, "message": "Webinar does not exist."})
                unknown = set(query) - {"page_size", "next_page_token"}
                if unknown or any(len(v) != 1 for v in query.values()):
                    return self._send(
                        400, {"code": 300, "message": f"unexpected parameters {sorted(unknown)}"}
                    )
                try:
                    size = int(query.get("page_size", ["30"])[0])
                    if not 1 <= size <= 300:
                        raise ValueError
                except ValueError:
                    return self._send(400, {"code": 300, "message": "page_size must be 1..300"})
                offset, page_no = 0, 1
                if "next_page_token" in query:
                    with fake._lock:
                        offset = fake._tokens.get(query["next_page_token"][0], -1)
                    if offset < 0:
                        return self._send(400, {"code": 300, "message": "invalid next_page_token"})
                    page_no = offset // size + 1
                faults = fake._faults.get(page_no)
                if faults:
                    status = faults.pop(0)
                    retry = {"Retry-After": "0"} if status == 429 else None
                    return self._send(status, {"code": 429, "message": "try later"}, retry)
                page = fake.participants[offset : offset + size]
                token = ""
                if offset + size < len(fake.participants):
                    token = secrets.token_urlsafe(12)
                    with fake._lock:
                        fake._tokens[token] = offset + size
                self._send(
                    200,
                    {
                        "page_size": size,
                        "total_records": len(fake.participants),
                        "next_page_token": token,
                        "participants": page,
                    },
                )

        return Handler
