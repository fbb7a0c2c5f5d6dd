"""Send one mailing to many people: policy, ledger, rendering, batching, throttle, retries.

``send_mailing`` is the one way funnelflow sends email. For each chunk of
recipients it asks the policy (``policy.check_recipients``), claims ledger rows
(skips are recorded with their reason), builds SendGrid v3 request bodies and
hands them to the transport, then marks the rows.

Two shapes of request:

- *batched*: the template is rendered once with substitution tags and up to
  1000 recipients go in one request as personalizations, each with its own
  substitutions (HTML-escaped for the HTML part, plain for text), unsubscribe
  headers and ``custom_args``. Used when the template renders the same that
  way as rendered per person (checked on the first recipient).
- *one request per message*, fully rendered by Jinja2, with bounded concurrency.

Errors: 429 waits until ``X-RateLimit-Reset`` and retries; 5xx and timeouts
retry with bounded exponential backoff; 400/413 mark those messages failed with
the provider's text; 401/403 release the claims (nothing was sent) and raise.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from funnelflow import settings
from funnelflow.email import ledger, policy, render
from funnelflow.email.tokens import make_token
from funnelflow.email.transports import Accepted, AuthFailed, RateLimited, Rejected, Transport, Unavailable
from funnelflow.identity import email_hash

log = logging.getLogger(__name__)

MAX_PERSONALIZATIONS = 1000  # SendGrid's limit per request
ONE_CLICK = "List-Unsubscribe=One-Click"


class SendingAborted(RuntimeError):
    """The send stopped (auth failure, provider down); the ledger says exactly what went out."""


@dataclass(frozen=True)
class Recipient:
    """One person to send to. ``values`` are their per-person template variables (plain, unescaped)."""

    email: str
    lead_id: int | None = None
    values: Mapping[str, str] = field(default_factory=dict)
    message_key: str | None = None  # overrides the mailing's key (one confirmation per pending consent)


@dataclass(frozen=True)
class Mailing:
    """What to send: a template, shared context, and the idempotency key of the message."""

    message_key: str
    template: str
    kind: str  # marketing | transactional
    context: Mapping[str, Any] = field(default_factory=dict)
    campaign_id: str | None = None
    variant: str | None = None  # recorded on each ledger row: a campaign's A/B subject variant


@dataclass
class SendOptions:
    batched: bool = True
    rate_per_s: float = 2000.0  # messages per second handed to the transport; 0 = unthrottled
    concurrency: int = 4
    max_retries: int = 4  # 5xx/timeouts, per request
    max_rate_limit_waits: int = 10  # 429s, per request
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    # Recipients per policy check and claim transaction; requests still carry at most
    # MAX_PERSONALIZATIONS each. Bigger chunks mean fewer round trips and durable commits,
    # but more claims left unsent (never sent twice) if the process dies mid-chunk.
    chunk_size: int = 5 * MAX_PERSONALIZATIONS
    # Crash-test hook: called with "claimed", "accepted" and "marked" at those points of the ledger.
    checkpoint: Callable[[str], None] | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time

    @classmethod
    def from_settings(cls, **overrides: Any) -> SendOptions:
        opts = cls(
            rate_per_s=settings.env_float("FUNNELFLOW_EMAIL_RATE_PER_S", 2000.0),
            concurrency=max(1, settings.env_int("FUNNELFLOW_EMAIL_CONCURRENCY", 4)),
        )
        for k, v in overrides.items():
            setattr(opts, k, v)
        return opts


@dataclass
class SendReport:
    """Counts only: safe to log and to return as a task's XCom."""

    sent: int = 0
    failed: int = 0
    skipped: Counter = field(default_factory=Counter)
    already_handled: int = 0
    requests: int = 0
    batched: bool = False
    paused: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "skipped": dict(self.skipped),
            "already_handled": self.already_handled,
            "requests": self.requests,
            "batched": self.batched,
            "paused": self.paused,
        }


class Throttle:
    """Paces messages to ``rate_per_s`` across threads (a schedule, not a burst bucket)."""

    def __init__(self, rate_per_s: float, clock: Callable[[], float], sleep: Callable[[float], None]):
        self.rate, self.clock, self.sleep = rate_per_s, clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self, n: int) -> None:
        if self.rate <= 0:
            return
        with self._lock:
            now = self.clock()
            start = max(self._next, now)
            self._next = start + n / self.rate
        if start > now:
            self.sleep(start - now)


def public_url() -> str:
    return (settings.env("FUNNELFLOW_PUBLIC_URL", "http://localhost:8080/funnelflow") or "").rstrip("/")


def unsubscribe_url(send_id: int) -> str:
    return f"{public_url()}/unsubscribe/{make_token('unsubscribe', send_id)}"


def confirm_url(consent_id: int) -> str:
    return f"{public_url()}/confirm/{make_token('confirm', consent_id)}"


def sender_address() -> dict[str, str]:
    return {
        "email": settings.env("FUNNELFLOW_FROM_EMAIL", "hello@example.com") or "hello@example.com",
        "name": settings.env("FUNNELFLOW_FROM_NAME", "funnelflow") or "funnelflow",
    }


def _personalization(
    email: str, send_id: int, campaign_id: str | None, kind: str, unsub: str | None
) -> dict[str, Any]:
    p: dict[str, Any] = {
        "to": [{"email": email}],
        # Ids only, as strings: events come back attributed without naming anyone.
        "custom_args": {"send_id": str(send_id), "campaign_id": campaign_id or ""},
    }
    if kind == policy.MARKETING and unsub:
        p["headers"] = {"List-Unsubscribe": f"<{unsub}>", "List-Unsubscribe-Post": ONE_CLICK}
    return p


def _body(personalizations: list[dict[str, Any]], rendered: render.Rendered) -> dict[str, Any]:
    return {
        "personalizations": personalizations,
        "from": sender_address(),
        "subject": rendered.subject,
        "content": [
            {"type": "text/plain", "value": rendered.text},
            {"type": "text/html", "value": rendered.html},
        ],
    }


def _chunks(items: Iterable[Recipient], size: int) -> Iterator[list[Recipient]]:
    chunk: list[Recipient] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class _Request:
    body: dict[str, Any]
    ids: list[int]


class _Sender:
    def __init__(
        self, engine: sa.Engine, mailing: Mailing, transport: Transport, as_of: datetime, opts: SendOptions
    ):
        if mailing.kind not in policy.KINDS:
            raise ValueError(f"mailing kind must be one of {policy.KINDS}, got {mailing.kind!r}")
        self.engine, self.mailing, self.transport, self.as_of, self.opts = (
            engine,
            mailing,
            transport,
            as_of,
            opts,
        )
        self.report = SendReport()
        self.throttle = Throttle(opts.rate_per_s, opts.clock, opts.sleep)
        self._tagged: render.Rendered | None = None
        self._per_recipient: tuple[str, ...] | None = None
        self._batched: bool | None = None if opts.batched else False
        self._abort: Exception | None = None
        self._value_keys: tuple[str, ...] | None = None
        self._lock = threading.RLock()

    # -- rendering -------------------------------------------------------------------------------
    def _values(self, r: Recipient, send_id: int) -> dict[str, str]:
        values = {k: "" if v is None else str(v) for k, v in r.values.items()}
        if self.mailing.kind == policy.MARKETING:
            values["unsubscribe_url"] = unsubscribe_url(send_id)
        return values

    def _render_one(self, values: Mapping[str, str]) -> render.Rendered:
        return render.render(self.mailing.template, {**self.mailing.context, **values})

    def _decide_batching(self, first_values: dict[str, str]) -> None:
        """Batch only when rendering once with tags and substituting gives exactly the per-person rendering.

        Checked with neutral probe values: a template that filters or transforms a per-person value
        renders differently and is sent one by one.
        """
        names = tuple(sorted(first_values))
        self._per_recipient = names
        if self._batched is False:
            return
        tagged = render.render_with_tags(self.mailing.template, dict(self.mailing.context), names)
        same = True
        for probe in ("Probe", "two words"):
            values = {n: probe for n in names}
            subs = render.substitutions_for(values)
            direct = self._render_one(values)
            same = same and (
                render.apply_substitutions(tagged.subject, subs).strip()
                == direct.subject  # rendering strips subjects
                and render.apply_substitutions(tagged.html, subs) == direct.html
                and render.apply_substitutions(tagged.text, subs) == direct.text
            )
        if not same:
            log.info(
                "template %s changes per-recipient values (filters or conditions): one request per message",
                self.mailing.template,
            )
        self._tagged = tagged if same else None
        self._batched = same
        self.report.batched = same

    # -- requests ----------------------------------------------------------------------------------
    def _requests_for(self, claimed: list[tuple[int, Recipient]]) -> list[_Request]:
        m = self.mailing
        rows = [(send_id, r, self._values(r, send_id)) for send_id, r in claimed]
        if self._per_recipient is None:
            self._decide_batching(rows[0][2])
        if self._batched:
            assert self._tagged is not None
            out = []
            for i in range(0, len(rows), MAX_PERSONALIZATIONS):
                personalizations = []
                for send_id, r, values in rows[i : i + MAX_PERSONALIZATIONS]:
                    p = _personalization(
                        r.email, send_id, m.campaign_id, m.kind, values.get("unsubscribe_url")
                    )
                    p["substitutions"] = render.substitutions_for(values)
                    personalizations.append(p)
                out.append(
                    _Request(
                        _body(personalizations, self._tagged),
                        [send_id for send_id, _, _ in rows[i : i + MAX_PERSONALIZATIONS]],
                    )
                )
            return out
        out = []
        for send_id, r, values in rows:
            p = _personalization(r.email, send_id, m.campaign_id, m.kind, values.get("unsubscribe_url"))
            out.append(_Request(_body([p], self._render_one(values)), [send_id]))
        return out

    def _deliver(self, req: _Request) -> Accepted:
        """Runs in a worker thread: throttle, then the request with its retries. No database here."""
        n = len(req.body["personalizations"])
        failures = waits = 0
        while True:
            self.throttle.acquire(n)
            try:
                return self.transport.deliver(req.body)
            except RateLimited as exc:
                waits += 1
                if waits > self.opts.max_rate_limit_waits:
                    raise Unavailable(f"still rate limited after {waits - 1} waits") from None
                delay = (exc.reset_epoch - self.opts.clock()) if exc.reset_epoch else self.opts.backoff_base_s
                log.info("rate limited: waiting %.1fs for X-RateLimit-Reset", max(delay, 0.0))
                self.opts.sleep(min(max(delay, 0.0), 3600.0))
            except Unavailable as exc:
                failures += 1
                if failures > self.opts.max_retries:
                    raise
                delay = min(self.opts.backoff_cap_s, self.opts.backoff_base_s * 2 ** (failures - 1))
                log.warning(
                    "transport unavailable (%s); retry %d of %d in %.1fs",
                    exc,
                    failures,
                    self.opts.max_retries,
                    delay,
                )
                self.opts.sleep(delay)

    def _send_and_record(self, req: _Request) -> tuple[str, int]:
        """Worker thread: deliver one request, then record the outcome in the ledger on its own connection.

        Recording here, not in the main thread, lets the next chunk's policy check
        and claim run while this one is marked. Returns ("sent" | "failed", rows);
        auth failures and exhausted retries release what was certainly not sent and re-raise.
        """
        try:
            accepted = self._deliver(req)
        except Rejected as exc:
            with self.engine.begin() as conn:
                n = ledger.mark_failed(conn, req.ids, str(exc))
            log.warning("%d message(s) refused and marked failed: %s", len(req.ids), exc)
            return "failed", n
        except (AuthFailed, Unavailable) as exc:
            if not getattr(exc, "maybe_sent", False):
                with self.engine.begin() as conn:
                    ledger.release(conn, req.ids)
            raise
        self._checkpoint("accepted")
        with self.engine.begin() as conn:
            n = ledger.mark_sent(conn, req.ids, accepted.message_id)
        self._checkpoint("marked")
        return "sent", n

    def _settle(self, fut: Future) -> None:
        """Main thread: count one finished request; a crash (any other error) propagates."""
        try:
            outcome, n = fut.result()
        except (AuthFailed, Unavailable) as exc:
            self._abort = self._abort or exc
            return
        if outcome == "sent":
            self.report.sent += n
        else:
            self.report.failed += n

    def _checkpoint(self, name: str) -> None:
        if self.opts.checkpoint:
            self.opts.checkpoint(name)

    # -- the loop ------------------------------------------------------------------------------------
    def _claim(self, chunk: list[Recipient]) -> list[tuple[int, Recipient]]:
        m = self.mailing
        seen: set[tuple[str, str]] = set()
        pairs: list[tuple[Recipient, str]] = []
        for r in chunk:
            # Checked before anything is claimed: a claim must never be left behind by a programming error.
            keys = tuple(sorted(r.values))
            if self._value_keys is None:
                with self._lock:
                    self._value_keys = self._value_keys or keys
            if keys != self._value_keys:
                raise ValueError(
                    f"mailing {m.message_key}: every recipient needs the same per-person values "
                    f"{self._value_keys}, got {keys}"
                )
            h = email_hash(r.email)
            if h is None:
                with self._lock:
                    self.report.skipped["no_address"] += 1
                continue
            key = (r.message_key or m.message_key, h)
            if key in seen:
                continue
            seen.add(key)
            pairs.append((r, h))
        if not pairs:
            return []
        with self.engine.begin() as conn:
            reasons = policy.check_recipients(
                conn, [policy.Candidate(h, r.lead_id) for r, h in pairs], m.kind, self.as_of
            )
            claims = [
                ledger.Claim(
                    r.message_key or m.message_key,
                    h,
                    r.lead_id,
                    m.template,
                    m.kind,
                    m.campaign_id,
                    reason,
                    variant=m.variant,
                )
                for (r, h), reason in zip(pairs, reasons, strict=True)
            ]
            new = ledger.claim(conn, claims)
        claimed: list[tuple[int, Recipient]] = []
        for (r, h), reason in zip(pairs, reasons, strict=True):
            row_id = new.get((r.message_key or m.message_key, h))
            if reason is not None:
                with self._lock:
                    self.report.skipped[reason] += 1  # recorded (or already recorded) as skipped
            elif row_id is None:
                with self._lock:
                    self.report.already_handled += 1
            else:
                claimed.append((row_id, r))
        return claimed

    def _claim_and_build(self, chunk: list[Recipient]) -> list[_Request]:
        """Claimer thread: policy, claim (committed), then the request bodies for what was claimed."""
        claimed = self._claim(chunk)
        if not claimed:
            return []
        self._checkpoint("claimed")
        with self._lock:  # the first chunk decides batching; the others reuse its rendering
            return self._requests_for(claimed)

    def run(self, recipients: Iterable[Recipient]) -> SendReport:
        in_flight: dict[Future, _Request] = {}
        window = max(1, self.opts.concurrency) * 2
        # Claiming waits on the database; on PostgreSQL two chunks are claimed at once so the wait overlaps.
        # SQLite has one writer: two claim transactions would only trade "database is locked".
        claimers = 2 if self.engine.dialect.name == "postgresql" else 1
        chunks = iter(_chunks(recipients, max(1, self.opts.chunk_size)))
        claiming: deque[Future] = deque()
        with (
            ThreadPoolExecutor(max_workers=max(1, self.opts.concurrency), thread_name_prefix="send") as pool,
            ThreadPoolExecutor(max_workers=claimers, thread_name_prefix="claim") as claim_pool,
        ):

            def pump() -> None:
                while len(claiming) < claimers and not self._abort:
                    chunk = next(chunks, None)  # the recipients iterator is read from this thread only
                    if chunk is None:
                        return
                    claiming.append(claim_pool.submit(self._claim_and_build, chunk))

            pump()
            while claiming:
                requests = claiming.popleft().result()
                pump()
                for req in requests:
                    while len(in_flight) >= window:
                        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                        for fut in done:
                            in_flight.pop(fut)
                            self._settle(fut)
                    if self._abort:
                        # Claimed but never handed over: release so a later run sends them.
                        with self.engine.begin() as conn:
                            ledger.release(conn, req.ids)
                        continue
                    self.report.requests += 1
                    in_flight[pool.submit(self._send_and_record, req)] = req
            for fut in list(in_flight):
                wait([fut])
                in_flight.pop(fut)
                self._settle(fut)
        if self._abort:
            raise SendingAborted(
                f"sending {self.mailing.message_key} stopped: {self._abort} "
                f"({self.report.sent} sent before it; the rest stay unsent)"
            ) from self._abort
        return self.report


def send_mailing(
    engine: sa.Engine,
    mailing: Mailing,
    recipients: Iterable[Recipient],
    transport: Transport,
    *,
    as_of: datetime,
    options: SendOptions | None = None,
    on_breaker: Callable[[policy.BreakerState], None] | None = None,
) -> SendReport:
    """Send ``mailing`` to ``recipients`` at most once each; see the module docstring for the rules."""
    opts = options or SendOptions.from_settings()
    if mailing.kind == policy.MARKETING:
        with engine.connect() as conn:
            state = policy.breaker_state(conn, as_of)
        if state.tripped:
            log.warning("marketing sends paused by the circuit breaker: %s", state.reason)
            if on_breaker:
                on_breaker(state)
            return SendReport(paused=state.reason)
    report = _Sender(engine, mailing, transport, as_of, opts).run(recipients)
    log.info("mailing %s (%s): %s", mailing.message_key, mailing.template, report.as_dict())
    return report
