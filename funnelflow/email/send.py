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

Errors: 429 waits until ``X-RateLimit-Reset`` and retries; 5xx and refused
connections retry with bounded exponential backoff; a timeout (the request may
have arrived) is not retried and leaves its claims for SendGrid's events;
400/413 mark those messages failed with the provider's text; 401/403 release
the claims (nothing was sent) and raise.

One recipient's failure is that recipient's alone: a message that cannot be
rendered or built (an address with a line break, substitutions over SendGrid's
size limit) or that the transport refuses on its own is recorded ``failed`` with
its reason, and the rest of the chunk and of the request goes.

A run never ends green with rows it claimed neither sent nor failed: those are
counted in ``SendReport.unsettled`` and ``send_mailing`` raises
``SendingIncomplete`` after sending everyone else. A retry of the same task
(``SendOptions.run_key``, ``retry``) first marks what its earlier tries left
``claimed`` as ``unsettled`` (never re-sent: it may have gone out) and counts them.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from funnelflow import settings
from funnelflow.db.helpers import chunks as _chunks  # the local name "chunks" is the iterator below
from funnelflow.email import ledger, policy, render
from funnelflow.email.tokens import make_token, token_maker
from funnelflow.email.transports import (
    Accepted,
    AuthFailed,
    RateLimited,
    Rejected,
    Transport,
    Unavailable,
    scrub,
)
from funnelflow.identity import email_hash

log = logging.getLogger(__name__)

MAX_PERSONALIZATIONS = 1000  # SendGrid's limit per request
# SendGrid's limit on substitutions and on custom_args, each, per personalization (our custom_args
# are two ids: only substitutions can reach it).
MAX_PERSONALIZATION_MAP_BYTES = 10_000
SUBSTITUTIONS_TOO_LARGE = (
    f"substitutions over SendGrid's {MAX_PERSONALIZATION_MAP_BYTES:,} bytes per recipient"
)
ONE_CLICK = "List-Unsubscribe=One-Click"


class SendingAborted(RuntimeError):
    """The send stopped (auth failure, provider down); the ledger says exactly what went out."""


class SendingIncomplete(RuntimeError):
    """The run left rows it claimed neither sent nor failed; retrying cannot settle them (at most once)."""

    def __init__(self, message_key: str, report: SendReport):
        super().__init__(
            f"sending {message_key}: {report.unsettled} message(s) claimed by this task were neither "
            f"sent nor failed and will not be sent again (ledger status 'unsettled' or 'claimed'); "
            f"{report.sent} sent, {report.failed} failed in this try"
        )
        self.report = report


@dataclass(frozen=True)
class Recipient:
    """One person to send to. ``values`` are their per-person template variables (plain, unescaped)."""

    email: str
    lead_id: int | None = None
    values: Mapping[str, str] = field(default_factory=dict)
    message_key: str | None = None  # overrides the mailing's key (one confirmation per pending consent)


@dataclass(frozen=True)
class Attachment:
    """A file sent with every message of a mailing (the weekly report's charts and CSVs).

    With a ``content_id`` it is an inline image the HTML shows as ``<img src="cid:<content_id>">``.
    """

    filename: str
    content: bytes
    mime_type: str  # image/png, text/csv, ...
    content_id: str | None = None

    def as_sendgrid(self) -> dict[str, str]:
        """SendGrid v3's ``attachments`` item (base64 content)."""
        item = {
            "content": base64.b64encode(self.content).decode("ascii"),
            "type": self.mime_type,
            "filename": self.filename,
            "disposition": "inline" if self.content_id else "attachment",
        }
        if self.content_id:
            item["content_id"] = self.content_id
        return item


@dataclass(frozen=True)
class Mailing:
    """What to send: a template, shared context, and the idempotency key of the message."""

    message_key: str
    template: str
    kind: str  # marketing | transactional
    context: Mapping[str, Any] = field(default_factory=dict)
    # The slug of the campaign the send belongs to (email_sends.campaign_id, touchpoints.campaign,
    # config/campaigns/<slug>.yaml); None for a message of no campaign. Never the message's own name.
    campaign_id: str | None = None
    attachments: tuple[Attachment, ...] = ()  # the same files go with every recipient's message
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
    # Who claims (stored as email_sends.claimed_by; the Airflow glue sets "dag/task/run"), and whether
    # this is a later try of it: then the claims its earlier tries left open are settled first.
    run_key: str | None = None
    retry: bool = False
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
    # Claimed by this task (this try or an earlier one) and neither sent nor failed: never re-sent.
    unsettled: int = 0
    requests: int = 0
    batched: bool = False
    paused: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "skipped": dict(self.skipped),
            "already_handled": self.already_handled,
            "unsettled": self.unsettled,
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


def unsubscribe_url(send_id: int, base: str | None = None) -> str:
    """The one-click unsubscribe link of send ``send_id`` (``base``: ``public_url()``, read once per run)."""
    return f"{base or public_url()}/unsubscribe/{make_token('unsubscribe', send_id)}"


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


def _map_too_large(values: Mapping[str, str]) -> bool:
    """Whether a substitutions/custom_args map is over SendGrid's byte limit,
    as SendGrid measures it (JSON)."""
    # JSON makes a character at most 12 bytes (an escaped surrogate pair) plus 6 per item for quotes
    # and separators: nearly every map is provably small without being encoded.
    chars = sum(map(len, values)) + sum(map(len, values.values()))
    if (chars + 6 * len(values)) * 12 < MAX_PERSONALIZATION_MAP_BYTES:
        return False
    return len(json.dumps(values).encode()) > MAX_PERSONALIZATION_MAP_BYTES


def _reason(exc: Exception) -> str:
    """A failure's reason for the ledger: its type and text, addresses removed."""
    return scrub(f"{type(exc).__name__}: {exc}")[:500]


def _body(
    personalizations: list[dict[str, Any]],
    rendered: render.Rendered,
    attachments: tuple[Attachment, ...] = (),
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "personalizations": personalizations,
        "from": sender_address(),
        "subject": rendered.subject,
        "content": [
            {"type": "text/plain", "value": rendered.text},
            {"type": "text/html", "value": rendered.html},
        ],
    }
    if attachments:
        body["attachments"] = [a.as_sendgrid() for a in attachments]
    return body


@dataclass
class _Request:
    body: dict[str, Any]
    ids: list[int]
    without_refused: bool = False  # already the request again without the personalizations refused


def _split_refused(req: _Request, exc: Rejected) -> tuple[dict[int, str], _Request] | None:
    """When a 400 names only some personalizations: ``({send_id: reason}, the request without them)``.

    SendGrid took nothing of a 400, so the rest can go without sending anything twice. Once per request.
    """
    bad = {i: reason for i, reason in exc.by_personalization.items() if 0 <= i < len(req.ids)}
    if req.without_refused or not bad or len(bad) >= len(req.ids) or len(bad) != len(exc.by_personalization):
        return None
    keep = [i for i in range(len(req.ids)) if i not in bad]
    body = {**req.body, "personalizations": [req.body["personalizations"][i] for i in keep]}
    return {req.ids[i]: reason for i, reason in bad.items()}, _Request(body, [req.ids[i] for i in keep], True)


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
        self._in_subject: tuple[str, ...] = ()  # per-recipient values the (batched) subject shows
        self._batched: bool | None = None if opts.batched else False
        self._abort: Exception | None = None
        self._value_keys: tuple[str, ...] | None = None
        # Claimed in this try and not yet recorded sent, failed or released.
        self._open: set[int] = set()
        # Left claimed by an earlier try of this task: counted as unsettled, not as already handled.
        self._earlier: set[tuple[str, str]] = set()
        self._lock = threading.RLock()
        self._public_url = public_url()  # per run, not per recipient (it was the hot path's env lookup)
        self._unsubscribe_token = token_maker("unsubscribe")  # the key read once, not per message

    # -- rendering -------------------------------------------------------------------------------
    def _values(self, r: Recipient, send_id: int) -> dict[str, str]:
        values = {k: "" if v is None else str(v) for k, v in r.values.items()}
        if self.mailing.kind == policy.MARKETING:
            values["unsubscribe_url"] = f"{self._public_url}/unsubscribe/{self._unsubscribe_token(send_id)}"
        return values

    def _render_one(self, values: Mapping[str, str]) -> render.Rendered:
        return render.render(self.mailing.template, {**self.mailing.context, **values})

    def _decide_batching(self, value_keys: tuple[str, ...]) -> None:
        """Batch only when rendering once with tags and substituting gives exactly the per-person rendering.

        Checked with neutral probe values, before anything is claimed (a broken template fails the
        mailing, not its recipients): a template that filters or transforms a per-person value
        renders differently and is sent one by one.
        """
        names = tuple(
            sorted(value_keys + (("unsubscribe_url",) if self.mailing.kind == policy.MARKETING else ()))
        )
        self._per_recipient = names
        probes = [self._render_one({n: probe for n in names}) for probe in ("Probe", "two words")]
        if self._batched is False:
            return
        tagged = render.render_with_tags(self.mailing.template, dict(self.mailing.context), names)
        in_subject = render.subject_names(tagged, names)
        same = True
        for probe, direct in zip(("Probe", "two words"), probes, strict=True):
            subs = render.substitutions_for({n: probe for n in names})
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
        self._in_subject = in_subject
        self._batched = same
        self.report.batched = same

    # -- requests ----------------------------------------------------------------------------------
    def _requests_for(self, claimed: list[tuple[int, Recipient]]) -> tuple[list[_Request], dict[int, str]]:
        """The request bodies for claimed recipients, and ``{send_id: reason}`` of those that cannot be built.

        A recipient whose values, message or personalization cannot be built fails alone.
        """
        m = self.mailing
        failed: dict[int, str] = {}
        built: list[tuple[int, dict[str, Any], render.Rendered | None]] = []
        # One scan of the chunk's addresses; each is looked at only when the chunk has a bad one.
        bad_address = render.has_unsafe_header_chars("".join(r.email for _, r in claimed))
        for send_id, r in claimed:
            if bad_address and render.has_unsafe_header_chars(r.email):
                failed[send_id] = "the address contains a line break or control character"
                continue
            try:
                values = self._values(r, send_id)
                p = _personalization(r.email, send_id, m.campaign_id, m.kind, values.get("unsubscribe_url"))
                rendered = None
                if self._batched:
                    p["substitutions"] = subs = render.substitutions_for(values)
                    if _map_too_large(subs):  # SendGrid would refuse the whole request for it
                        failed[send_id] = SUBSTITUTIONS_TOO_LARGE
                        continue
                    if not all(values[n].isprintable() for n in self._in_subject):
                        # A value the subject shows has a line break (or is odd): this recipient gets
                        # a subject of their own, substituted and header-safe; the text part keeps it.
                        p["subject"] = render.own_subject(self._tagged.subject, subs)
                else:
                    rendered = self._render_one(values)
            except Exception as exc:  # this recipient's values or rendering, not the mailing's
                failed[send_id] = f"message could not be built: {_reason(exc)}"
                continue
            built.append((send_id, p, rendered))
        if self._batched:
            assert self._tagged is not None
            out = [
                _Request(
                    _body(
                        [p for _, p, _ in built[i : i + MAX_PERSONALIZATIONS]], self._tagged, m.attachments
                    ),
                    [send_id for send_id, _, _ in built[i : i + MAX_PERSONALIZATIONS]],
                )
                for i in range(0, len(built), MAX_PERSONALIZATIONS)
            ]
        else:
            out = [
                _Request(_body([p], rendered, m.attachments), [send_id])  # type: ignore[arg-type]
                for send_id, p, rendered in built
            ]
        return out, failed

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
                # A request that may have arrived is never sent again: that could send it twice.
                if exc.maybe_sent or failures > self.opts.max_retries:
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

    def _record_failed(self, failed: Mapping[int, str]) -> int:
        """Mark ``{send_id: reason}`` failed, one statement per distinct reason."""
        by_reason: dict[str, list[int]] = {}
        for send_id, reason in failed.items():
            by_reason.setdefault(reason, []).append(send_id)
        n = 0
        with self.engine.begin() as conn:
            for reason, ids in by_reason.items():
                n += ledger.mark_failed(conn, ids, reason)
        self._close(failed)
        return n

    def _close(self, ids: Iterable[int]) -> None:
        with self._lock:
            self._open.difference_update(ids)

    def _send_and_record(self, req: _Request) -> tuple[int, int]:
        """Worker thread: deliver one request, then record the outcome in the ledger on its own connection.

        Recording here, not in the main thread, lets the next chunk's policy check
        and claim run while this one is marked. Returns (sent, failed) rows; auth
        failures and exhausted retries release what was certainly not sent and re-raise.
        """
        try:
            accepted = self._deliver(req)
        except Rejected as exc:
            split = _split_refused(req, exc)
            if split is not None:  # only some recipients were refused: fail those, send the rest
                refused, rest = split
                failed = self._record_failed(refused)
                log.warning("%d message(s) of a request refused on their own and marked failed", len(refused))
                sent, more_failed = self._send_and_record(rest)
                return sent, failed + more_failed
            n = self._record_failed(dict.fromkeys(req.ids, str(exc)))
            log.warning("%d message(s) refused and marked failed: %s", len(req.ids), exc)
            return 0, n
        except (AuthFailed, Unavailable) as exc:
            if not getattr(exc, "maybe_sent", False):
                with self.engine.begin() as conn:
                    ledger.release(conn, req.ids)
                self._close(req.ids)
            raise
        self._checkpoint("accepted")
        refused = {i: accepted.refused[str(i)] for i in req.ids if str(i) in accepted.refused}
        sent_ids = [i for i in req.ids if i not in refused] if refused else req.ids
        with self.engine.begin() as conn:
            sent = ledger.mark_sent(conn, sent_ids, accepted.message_id)
        self._close(sent_ids)
        failed = self._record_failed(refused) if refused else 0
        if refused:
            log.warning("%d message(s) of a request refused on their own and marked failed", len(refused))
        self._checkpoint("marked")
        return sent, failed

    def _settle(self, fut: Future) -> None:
        """Main thread: count one finished request; a crash (any other error) propagates."""
        try:
            sent, failed = fut.result()
        except (AuthFailed, Unavailable) as exc:
            self._abort = self._abort or exc
            return
        with self._lock:  # the claimer thread counts build failures into the same report
            self.report.sent += sent
            self.report.failed += failed

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
                    if self._value_keys is None:
                        self._decide_batching(keys)  # a broken template raises here, before any claim
                        self._value_keys = keys
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
            new = ledger.claim(conn, claims, claimed_by=self.opts.run_key)
        claimed: list[tuple[int, Recipient]] = []
        for (r, h), reason in zip(pairs, reasons, strict=True):
            key = (r.message_key or m.message_key, h)
            row_id = new.get(key)
            if reason is not None:
                with self._lock:
                    self.report.skipped[reason] += 1  # recorded (or already recorded) as skipped
            elif row_id is None:
                if key not in self._earlier:  # those are counted as unsettled, not hidden here
                    with self._lock:
                        self.report.already_handled += 1
            else:
                claimed.append((row_id, r))
        with self._lock:
            self._open.update(row_id for row_id, _ in claimed)
        return claimed

    def _claim_and_build(self, chunk: list[Recipient]) -> list[_Request]:
        """Claimer thread: policy, claim (committed), then the request bodies for what was claimed."""
        claimed = self._claim(chunk)
        if not claimed:
            return []
        self._checkpoint("claimed")
        requests, failed = self._requests_for(claimed)
        if failed:
            n = self._record_failed(failed)
            with self._lock:
                self.report.failed += n
            log.warning("%d message(s) could not be built and were marked failed", len(failed))
        return requests

    def _release(self, ids: list[int]) -> None:
        with self.engine.begin() as conn:
            ledger.release(conn, ids)
        self._close(ids)

    def _release_unsent(self, pending: Iterable[_Request], claiming: Iterable[Future]) -> None:
        ids = [i for req in pending for i in req.ids]
        for fut in claiming:
            try:
                ids.extend(i for req in fut.result() for i in req.ids)
            except BaseException:  # that chunk's own error: its claims stay for the retry
                continue
        if not ids:
            return
        try:
            self._release(ids)
        except Exception:
            log.exception(
                "could not release %d claims never handed over; a retry marks them unsettled", len(ids)
            )

    def _settle_earlier_tries(self) -> None:
        """On a retry: what earlier tries of this task left claimed is marked unsettled and counted."""
        if not (self.opts.retry and self.opts.run_key):
            return
        with self.engine.begin() as conn:
            rows = ledger.settle_earlier_claims(conn, self.opts.run_key, self.as_of)
        if rows:
            log.warning(
                "%d message(s) claimed by an earlier try of this task were neither sent nor failed: "
                "marked unsettled, not sent again",
                len(rows),
            )
        self._earlier = {(key, h) for _, key, h in rows}
        self.report.unsettled += len(rows)

    def run(self, recipients: Iterable[Recipient]) -> SendReport:
        self._settle_earlier_tries()
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
            pending: deque[_Request] = deque()  # built, not yet handed to a worker
            try:
                while claiming or pending:
                    if not pending:
                        pending.extend(claiming.popleft().result())
                        pump()
                        continue
                    while len(in_flight) >= window:
                        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                        for fut in done:
                            in_flight.pop(fut)
                            self._settle(fut)
                    req = pending.popleft()
                    if self._abort:
                        # Claimed but never handed over: release so a later run sends them.
                        self._release(req.ids)
                        continue
                    self.report.requests += 1
                    in_flight[pool.submit(self._send_and_record, req)] = req
                for fut in list(in_flight):
                    wait([fut])
                    in_flight.pop(fut)
                    self._settle(fut)
            except BaseException:
                # The run dies (a bug, the database, the task being killed): what was claimed and
                # built but never handed to the transport was provably not sent; release it so a
                # later run sends it, rather than leave it claimed for nobody.
                self._release_unsent(pending, claiming)
                raise
        if self._open:
            # Handed over with an unknown outcome (a timeout): never re-sent; events may settle them.
            with self.engine.connect() as conn:
                self.report.unsettled += ledger.still_claimed(conn, sorted(self._open))
        if self._abort:
            raise SendingAborted(
                f"sending {self.mailing.message_key} stopped: {self._abort} "
                f"({self.report.sent} sent before it; {self.report.unsettled} claimed with an unknown "
                "outcome; the rest stay unsent)"
            ) from self._abort
        if self.report.unsettled:
            raise SendingIncomplete(self.mailing.message_key, self.report)
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
