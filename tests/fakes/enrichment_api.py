"""A local stand-in for a Clearbit-style company API, on 127.0.0.1, as strict as the real one.

``GET /v2/companies/find?domain=DOMAIN`` with ``Authorization: Bearer KEY``:
200 with the company, 404 for an unknown domain, 401 without the right key,
422 for a malformed domain or any other query parameter, 405 for other
methods, 404 for other paths. Every request is recorded for assertions.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from tests.fakes import JsonHandler, LoopbackServer

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class FakeEnrichmentApi(LoopbackServer):
    def __init__(self, api_key: str = "test-key") -> None:
        self.api_key = api_key
        self.companies: dict[str, dict] = {}
        self.requests: list[dict] = []
        self._listen(self._handler())

    def add_company(
        self, domain: str, name: str, industry: str, employees: str, revenue: str, country: str
    ) -> None:
        self.companies[domain] = {
            "id": f"c-{len(self.companies) + 1}",
            "name": name,
            "domain": domain,
            "category": {"industry": industry, "sector": None},
            "metrics": {"employeesRange": employees, "estimatedAnnualRevenue": revenue},
            "geo": {"countryCode": country},
        }

    def lookups(self) -> list[str]:
        return [r["domain"] for r in self.requests if r.get("domain")]

    def _handler(self):
        fake = self

        class Handler(JsonHandler):
            def _error(self, status: int, kind: str, message: str) -> None:
                self._send(status, {"error": {"type": kind, "message": message}})

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = parse_qs(url.query, keep_blank_values=True)
                record = {"path": url.path, "query": query, "auth": self.headers.get("Authorization")}
                if url.path != "/v2/companies/find":
                    fake.requests.append(record)
                    return self._error(404, "not_found", "no such endpoint")
                if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    fake.requests.append(record)
                    return self._error(401, "auth_required", "missing or wrong API key")
                if set(query) != {"domain"} or len(query["domain"]) != 1:
                    fake.requests.append(record)
                    return self._error(422, "invalid_request", "exactly one `domain` parameter is required")
                domain = query["domain"][0]
                record["domain"] = domain
                fake.requests.append(record)
                if not _DOMAIN.match(domain):
                    return self._error(422, "invalid_domain", "not a domain name")
                company = fake.companies.get(domain)
                if company is None:
                    return self._error(404, "unknown_record", "no company for this domain")
                return self._send(200, company)

            def do_POST(self) -> None:
                self._error(405, "method_not_allowed", "use GET")

            do_PUT = do_DELETE = do_PATCH = do_POST

        return Handler
