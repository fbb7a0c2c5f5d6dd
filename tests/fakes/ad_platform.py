"""A local stand-in for an ad platform's lead-form API, on 127.0.0.1, as strict as the real one.

Checks the bearer token, the path's form id, that only ``since``, ``cursor`` and
``limit`` are sent, that ``limit`` is 1..100 and ``since`` an ISO time, and that
a cursor is one it issued for the same ``since``. Leads are served oldest first
(created_time, id), ``created_time >= since``. Faults on cue: ``fail_page(n,
status, times)`` answers page ``n`` of a sequence with ``status`` ``times`` times.
"""

from __future__ import annotations

import base64
import json
import threading
from datetime import datetime
from urllib.parse import parse_qs, urlparse

from tests.fakes import JsonHandler, LoopbackServer


class FakeAdPlatform(LoopbackServer):
    def __init__(self, token: str = "test-token", form_id: str = "demo-request") -> None:
        self.token = token
        self.form_id = form_id
        self.leads: list[dict] = []
        self.requests: list[dict] = []
        self._faults: dict[int, list[int]] = {}
        self._lock = threading.Lock()
        self._listen(self._handler())

    def add_lead(
        self, lead_id: str, created_time: str, fields: dict[str, str], campaign: str = "Demo Q4"
    ) -> None:
        with self._lock:
            self.leads.append(
                {
                    "id": lead_id,
                    "created_time": created_time,
                    "campaign_name": campaign,
                    "field_data": [{"name": k, "values": [v]} for k, v in fields.items()],
                }
            )
            self.leads.sort(key=lambda lead: (lead["created_time"], lead["id"]))

    def fail_page(self, page: int, status: int, times: int = 1) -> None:
        """Answer page number ``page`` (1 = first page of a sequence) with ``status``, ``times`` times."""
        self._faults.setdefault(page, []).extend([status] * times)

    def _handler(self):
        fake = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                url = urlparse(self.path)
                query = parse_qs(url.query, keep_blank_values=True)
                fake.requests.append({"path": url.path, "query": {k: v[-1] for k, v in query.items()}})
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self._send(401, {"error": "invalid access token"})
                if url.path != f"/v1/lead-forms/{fake.form_id}/leads":
                    return self._send(404, {"error": f"no such form: {url.path}"})
                unknown = set(query) - {"since", "cursor", "limit"}
                if unknown or any(len(v) != 1 for v in query.values()):
                    return self._send(400, {"error": f"unexpected parameters {sorted(unknown)}"})
                try:
                    limit = int(query.get("limit", ["25"])[0])
                    if not 1 <= limit <= 100:
                        raise ValueError
                except ValueError:
                    return self._send(400, {"error": "limit must be 1..100"})
                since = query.get("since", [""])[0]
                if since:
                    try:
                        datetime.fromisoformat(since)
                    except ValueError:
                        return self._send(400, {"error": "since must be an ISO-8601 time"})
                offset, page_no = 0, 1
                if "cursor" in query:
                    try:
                        state = json.loads(base64.urlsafe_b64decode(query["cursor"][0]))
                        offset, page_no, cursor_since = int(state["o"]), int(state["p"]), state["s"]
                    except (ValueError, KeyError, TypeError):
                        return self._send(400, {"error": "invalid cursor"})
                    if cursor_since != since:
                        return self._send(400, {"error": "cursor belongs to another since"})
                faults = fake._faults.get(page_no)
                if faults:
                    status = faults.pop(0)
                    return self._send(
                        status, {"error": "try later"}, {"Retry-After": "0"} if status == 429 else None
                    )
                with fake._lock:
                    matching = [lead for lead in fake.leads if not since or lead["created_time"] >= since]
                page = matching[offset : offset + limit]
                more = offset + limit < len(matching)
                cursor = (
                    base64.urlsafe_b64encode(
                        json.dumps({"o": offset + limit, "p": page_no + 1, "s": since}).encode()
                    ).decode()
                    if more
                    else None
                )
                self._send(200, {"data": page, "paging": {"next_cursor": cursor}})

        return Handler
