"""A local stand-in for a CRM's REST API, on 127.0.0.1, as strict as a real one.

- ``POST /v1/handoffs`` with ``Authorization: Bearer KEY`` and an ``Idempotency-Key``
  header: the JSON body must have exactly the handoff fields (no unknown keys, the
  lead's ``funnelflow_id`` an integer); 201 with ``{"id": "crm-N"}``. The same key
  again answers the first answer (200) and creates nothing; the same key with a
  different body is 422. ``fail_next`` makes the next posts answer 503 (then they work).
  ``reject_ref`` answers 400 for that ``external_ref``.
- ``GET /v1/opportunities?limit=N[&cursor=C]``: pages of ``opportunities`` in order,
  ``next_cursor`` and ``has_more``; an unknown cursor is 400, a missing limit 422.
- 401 without the right key, 404 for other paths, 405 for other methods.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from tests.fakes import JsonHandler, LoopbackServer

HANDOFF_KEYS = {
    "external_ref",
    "kind",
    "owner",
    "routing_reason",
    "fit_grade",
    "assigned_at",
    "due_at",
    "lead",
}
LEAD_KEYS = {
    "funnelflow_id",
    "email",
    "first_name",
    "last_name",
    "company",
    "job_title",
    "phone",
    "country",
    "domain",
}


class FakeCrm(LoopbackServer):
    def __init__(self, api_key: str = "crm-key") -> None:
        self.api_key = api_key
        self.records: dict[str, dict] = {}  # id -> body
        self.by_key: dict[str, tuple[str, dict]] = {}  # idempotency key -> (record id, body)
        self.opportunities: list[dict] = []
        self.requests: list[dict] = []
        self.fail_next = 0
        self.reject_ref: str | None = None
        self._listen(self._handler())

    def _handler(self):
        fake = self

        class Handler(JsonHandler):
            def _authorized(self) -> bool:
                if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    self._send(401, {"error": "missing or wrong API key"})
                    return False
                return True

            def do_POST(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                fake.requests.append(
                    {"method": "POST", "path": url.path, "key": self.headers.get("Idempotency-Key")}
                )
                if url.path != "/v1/handoffs":
                    return self._send(404, {"error": "no such endpoint"})
                if not self._authorized():
                    return None
                if fake.fail_next:
                    fake.fail_next -= 1
                    return self._send(503, {"error": "try again"})
                key = self.headers.get("Idempotency-Key")
                if not key:
                    return self._send(422, {"error": "Idempotency-Key header required"})
                if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
                    return self._send(415, {"error": "JSON only"})
                try:
                    body = json.loads(raw)
                except ValueError:
                    return self._send(400, {"error": "not JSON"})
                if set(body) != HANDOFF_KEYS or set(body.get("lead") or {}) != LEAD_KEYS:
                    return self._send(422, {"error": "wrong fields"})
                if not isinstance(body["lead"]["funnelflow_id"], int):
                    return self._send(422, {"error": "lead.funnelflow_id must be an integer"})
                if body["external_ref"] == fake.reject_ref:
                    return self._send(
                        400, {"error": f"owner {body['owner']} unknown for {body['lead']['email']}"}
                    )
                if key in fake.by_key:
                    record_id, first = fake.by_key[key]
                    if first != body:
                        return self._send(422, {"error": "idempotency key reused with a different body"})
                    return self._send(200, {"id": record_id})
                record_id = f"crm-{len(fake.records) + 1}"
                fake.records[record_id] = body
                fake.by_key[key] = (record_id, body)
                return self._send(201, {"id": record_id})

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                fake.requests.append({"method": "GET", "path": url.path, "query": query})
                if url.path != "/v1/opportunities":
                    return self._send(404, {"error": "no such endpoint"})
                if not self._authorized():
                    return None
                if set(query) - {"limit", "cursor"} or "limit" not in query:
                    return self._send(422, {"error": "limit required; only limit and cursor allowed"})
                limit = int(query["limit"][0])
                start = 0
                if "cursor" in query:
                    cursor = query["cursor"][0]
                    if not cursor.startswith("c") or not cursor[1:].isdigit():
                        return self._send(400, {"error": "unknown cursor"})
                    start = int(cursor[1:])
                page = fake.opportunities[start : start + limit]
                end = start + len(page)
                return self._send(
                    200, {"data": page, "next_cursor": f"c{end}", "has_more": end < len(fake.opportunities)}
                )

            def do_PUT(self) -> None:
                self._send(405, {"error": "method not allowed"})

            do_DELETE = do_PATCH = do_PUT

        return Handler
