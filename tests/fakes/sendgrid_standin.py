"""A local stand-in for SendGrid's v3 API: an HTTP server on 127.0.0.1 that is as strict as the service.

``POST /v3/mail/send`` bodies are validated against SendGrid's published
schema (``components.requestBodies.PostMailSend`` of the spec file in
``../shared/specs``), patched where the service and the spec differ (the
service takes ``custom_args`` as an object of strings), plus the rules the
service enforces beyond the schema: 1000 personalizations and recipients at
most, a subject and content, text/plain first, headers it refuses to let you
set, 10,000 bytes of substitutions or custom_args per personalization, 20 MB
per request (413). Wrong key: 401. It answers 202 with ``X-Message-Id``.

Cues (``cue(429, reset=...)``, ``cue(500)``, ``cue(400)``, ``cue(401)``,
``cue(403)``, ``cue(413)``) answer the next mail/send requests that way.
``hold(match)`` makes the next request whose body ``match`` accepts wait, after it was read
and validated, until the test sets ``release`` (``arrived`` is set while it waits): a send
caught in flight, e.g. while the test kills the worker that made it. Then it is accepted
as the service would (the body arrived whole), even if nobody reads the answer.
Requests are recorded (``sent``); ``sample=N`` validates one request in N and
only counts the rest (the benchmark). Other paths can be served by tests
through ``routes`` (``{("GET", "/v3/suppression/bounces"): handler}``).

Run alone for the benchmark: ``python -m tests.fakes.sendgrid_standin SPEC --port 0 --sample 10``
prints the port; ``GET /__stats`` returns the counters.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema

MAX_BODY_BYTES = 20 * 1024 * 1024
MAX_RECIPIENTS = 1000
FORBIDDEN_HEADERS = {
    "x-sg-id",
    "x-sg-eid",
    "received",
    "dkim-signature",
    "content-type",
    "content-transfer-encoding",
    "to",
    "from",
    "subject",
    "reply-to",
    "cc",
    "bcc",
}


def load_validator(spec_path: Path) -> jsonschema.protocols.Validator:
    spec = json.loads(Path(spec_path).read_text())
    schema = copy.deepcopy(
        spec["components"]["requestBodies"]["PostMailSend"]["content"]["application/json"]["schema"]
    )
    # Where the service differs from the spec: custom_args is an object of strings (see specs/README.md).
    string_map = {"type": "object", "additionalProperties": {"type": "string"}}
    schema["properties"]["custom_args"] = string_map
    schema["properties"]["personalizations"]["items"]["properties"]["custom_args"] = string_map
    schema["components"] = spec["components"]  # so "#/components/schemas/..." references resolve
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _error(message: str, field: str | None = None) -> dict[str, Any]:
    return {"message": message, "field": field, "help": None}


def service_rules(body: dict[str, Any]) -> list[dict[str, Any]]:
    """What the service refuses beyond the schema."""
    errors = []
    ps = body.get("personalizations") or []
    recipients = sum(len(p.get(k) or []) for p in ps for k in ("to", "cc", "bcc"))
    if recipients > MAX_RECIPIENTS:
        errors.append(
            _error(f"The total number of recipients must be {MAX_RECIPIENTS} or fewer", "personalizations")
        )
    if not body.get("template_id"):
        content = body.get("content") or []
        if not content:
            errors.append(
                _error(
                    "Unless a valid template_id is provided, the content parameter is required.", "content"
                )
            )
        elif any(c.get("type") == "text/plain" for c in content) and content[0].get("type") != "text/plain":
            errors.append(
                _error(
                    "If present, text/plain content must be first, followed by any other content.", "content"
                )
            )
        if not body.get("subject") and not all(p.get("subject") for p in ps):
            errors.append(
                _error(
                    "The subject is required. You can get around this requirement if you use a template "
                    "with a subject defined or if every personalization has a subject defined.",
                    "subject",
                )
            )
    for i, p in enumerate(ps):
        for name in {**(body.get("headers") or {}), **(p.get("headers") or {})}:
            if name.lower() in FORBIDDEN_HEADERS:
                errors.append(
                    _error(
                        f"The header {name} is reserved and cannot be set.", f"personalizations.{i}.headers"
                    )
                )
        for key in ("substitutions", "custom_args"):
            size = len(json.dumps(p.get(key) or {}).encode())
            if size > 10_000:
                errors.append(
                    _error(
                        f"The total size of {key} may not exceed 10,000 bytes per personalization.",
                        f"personalizations.{i}.{key}",
                    )
                )
    return errors


@dataclass
class Recorded:
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class Hold:
    """One request held in flight: ``arrived`` when it is, answered once ``release`` is set."""

    match: Callable[[dict[str, Any]], bool]
    timeout_s: float
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    body: dict[str, Any] | None = None


@dataclass
class StandIn:
    validator: jsonschema.protocols.Validator
    api_key: str = "SG.test-key"
    sample: int = 1  # validate one request in `sample`; record bodies only when 1
    sent: list[Recorded] = field(default_factory=list)
    cues: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    routes: dict[tuple[str, str], Callable[[dict[str, Any] | None], tuple[int, Any]]] = field(
        default_factory=dict
    )
    stats: dict[str, int] = field(
        default_factory=lambda: {
            "requests": 0,
            "accepted": 0,
            "personalizations": 0,
            "validated": 0,
            "invalid": 0,
        }
    )
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    holds: list[Hold] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def cue(self, status: int, reset: float | None = None, times: int = 1) -> None:
        """Answer the next ``times`` mail/send requests with ``status``
        (429 carries ``X-RateLimit-Reset``)."""
        headers = (
            {"X-RateLimit-Reset": str(int(reset if reset is not None else time.time() + 1))}
            if status == 429
            else {}
        )
        with self.lock:
            self.cues.extend([(status, headers)] * times)

    def hold(self, match: Callable[[dict[str, Any]], bool], timeout_s: float = 600.0) -> Hold:
        """Hold the next valid mail/send request ``match`` accepts until ``release`` (or the timeout)."""
        held = Hold(match, timeout_s)
        with self.lock:
            self.holds.append(held)
        return held

    def _held(self, body: dict[str, Any]) -> Hold | None:
        with self.lock:
            for held in self.holds:
                if not held.arrived.is_set() and held.match(body):
                    held.body = body
                    held.arrived.set()
                    return held
        return None

    def recipients(self) -> list[str]:
        return [t["email"] for r in self.sent for p in r.body["personalizations"] for t in p["to"]]

    # -- the mail/send logic ----------------------------------------------------------------------
    def mail_send(self, raw: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return (
                401,
                {},
                {"errors": [_error("The provided authorization grant is invalid, expired, or revoked")]},
            )
        with self.lock:
            self.stats["requests"] += 1
            n = self.stats["requests"]
            cue = self.cues.pop(0) if self.cues else None
        if cue:
            status, extra = cue
            messages = {
                400: "Bad Request",
                401: "The provided authorization grant is invalid, expired, or revoked",
                403: "access forbidden",
                413: "Payload Too Large",
                429: "too many requests",
                500: "internal error",
                503: "service unavailable",
            }
            return status, extra, {"errors": [_error(messages.get(status, "error"))]}
        if len(raw) > MAX_BODY_BYTES:
            return (
                413,
                {},
                {"errors": [_error("The JSON payload you have included in your request is too large.")]},
            )
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, {}, {"errors": [_error("Bad Request")]}
        if not isinstance(body, dict):
            return 400, {}, {"errors": [_error("Bad Request")]}
        if self.sample <= 1 or n % self.sample == 1:
            errors = [
                _error(e.message, ".".join(str(x) for x in e.absolute_path) or None)
                for e in self.validator.iter_errors(body)
            ] + service_rules(body)
            with self.lock:
                self.stats["validated"] += 1
                self.stats["invalid"] += bool(errors)
            if errors:
                return 400, {}, {"errors": errors[:20]}
        if self.holds and (held := self._held(body)):
            held.release.wait(held.timeout_s)
        with self.lock:
            self.stats["accepted"] += 1
            self.stats["personalizations"] += len(body.get("personalizations") or [])
            if self.sample <= 1:
                self.sent.append(Recorded(body=body, headers=dict(headers)))
        return 202, {"X-Message-Id": uuid.uuid4().hex[:22]}, None

    # -- the server ---------------------------------------------------------------------------------
    def start(self, port: int = 0) -> StandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet: the test output is ours
                pass

            def _answer(self, status: int, headers: dict[str, str], payload: Any) -> None:
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                try:
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client died while its request was held: nobody reads the answer
                    self.close_connection = True

            def _read(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_POST(self) -> None:
                raw = self._read()
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                if self.path.rstrip("/") == "/v3/mail/send":
                    self._answer(*standin.mail_send(raw, hdrs))
                else:
                    self._route("POST", raw, hdrs)

            def do_GET(self) -> None:
                if self.path == "/__stats":
                    with standin.lock:
                        self._answer(200, {}, dict(standin.stats))
                    return
                self._route("GET", b"", {k.lower(): v for k, v in self.headers.items()})

            def do_DELETE(self) -> None:
                self._route("DELETE", self._read(), {k.lower(): v for k, v in self.headers.items()})

            def _route(self, method: str, raw: bytes, hdrs: dict[str, str]) -> None:
                if hdrs.get("authorization") != f"Bearer {standin.api_key}":
                    self._answer(401, {}, {"errors": [_error("authorization required")]})
                    return
                handler = standin.routes.get((method, self.path.split("?")[0].rstrip("/")))
                if handler is None:
                    self._answer(404, {}, {"errors": [_error("not found")]})
                    return
                status, payload = handler(
                    {"query": self.path.partition("?")[2], "body": json.loads(raw) if raw else None}
                )
                self._answer(status, {}, payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="sendgrid-standin", daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the SendGrid stand-in until killed.")
    parser.add_argument("spec", type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--sample", type=int, default=1)
    parser.add_argument("--api-key", default="SG.test-key")
    args = parser.parse_args()
    standin = StandIn(load_validator(args.spec), api_key=args.api_key, sample=args.sample).start(args.port)
    print(standin.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()
        sys.exit(0)


if __name__ == "__main__":
    main()
