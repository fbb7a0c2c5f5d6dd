"""How a message leaves: SendGrid (production), SMTP (Mailpit) or the outbox folder (demo).

Every transport takes the same thing, a SendGrid v3 ``mail/send`` request body,
and answers ``Accepted`` or raises one of the errors below, so the sending
logic (ledger, retries, throttle) is the same whichever is configured with
``FUNNELFLOW_EMAIL_TRANSPORT``. SMTP and outbox expand the body into one MIME
message per personalization, applying substitutions the way SendGrid does.

Every header a transport writes or hands over (subject, display names, custom
headers, and the substitutions SendGrid puts into the subject) goes through
``render.header_safe`` first (``header_safe_body``), whoever built the body.
A message of a batch that cannot be built or is refused on its own is reported
in ``Accepted.refused`` by its send id; the rest of the batch still goes.
"""

from __future__ import annotations

import base64
import email.policy
import json
import os
import re
import smtplib
import socket
import urllib.error
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path
from typing import Any, Protocol

from funnelflow import settings
from funnelflow.email.render import apply_substitutions, has_unsafe_header_chars, header_safe

SENDGRID_API = "https://api.sendgrid.com"
SENDGRID_TIMEOUT_S = 30.0
TRANSPORTS = ("sendgrid", "smtp", "outbox")
_ADDRESS = re.compile(r"[^\s@<>\"']+@[^\s@<>\"']+")


@dataclass(frozen=True)
class Accepted:
    message_id: str | None
    # send id -> reason, for messages of the request that were not handed over (the rest were).
    refused: Mapping[str, str] = field(default_factory=dict)


class TransportError(Exception):
    """Base of what a transport raises; messages never contain an address."""


class RateLimited(TransportError):
    def __init__(self, reset_epoch: float | None):
        super().__init__(f"rate limited until {reset_epoch}")
        self.reset_epoch = reset_epoch


class Unavailable(TransportError):
    """5xx, timeout or connection failure: worth retrying with backoff.

    ``maybe_sent`` is true when the request may have reached the provider (a
    timeout after sending), so a claim must not be released.
    """

    def __init__(self, detail: str, maybe_sent: bool = False):
        super().__init__(detail)
        self.maybe_sent = maybe_sent


class Rejected(TransportError):
    """400/413: the provider refuses these messages; retrying cannot help.

    ``by_personalization`` (index -> reason) is set when every error names a personalization
    of the request: the provider took nothing, and the others may be sent without those.
    """

    def __init__(self, detail: str, by_personalization: Mapping[int, str] | None = None):
        super().__init__(detail)
        self.by_personalization = dict(by_personalization or {})


class AuthFailed(TransportError):
    """401/403: the key is wrong or lacks the mail.send scope; nothing can be sent."""


class Transport(Protocol):
    name: str

    def deliver(self, body: dict[str, Any]) -> Accepted: ...


def scrub(text: str) -> str:
    """Error text from a provider, without any address it may quote."""
    return _ADDRESS.sub("<address>", text)


_PERSONALIZATION_FIELD = re.compile(r"^personalizations[.\[](\d+)")


def _sendgrid_errors_by_personalization(raw: bytes | str | None) -> dict[int, str]:
    """``{index: reason}`` when every error of a 400 names a personalization; else empty."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else (raw or "")
    try:
        errors = json.loads(text).get("errors") or []
    except (ValueError, AttributeError):
        return {}
    out: dict[int, str] = {}
    for e in errors:
        match = _PERSONALIZATION_FIELD.match(str(e.get("field") or "")) if isinstance(e, dict) else None
        if match is None:
            return {}
        reason = scrub(f"SendGrid 400: {e.get('field')}: {e.get('message')}")[:500]
        out[int(match.group(1))] = out.get(int(match.group(1)), reason)
    return out


def _sendgrid_error_text(status: int, raw: bytes | str | None) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else (raw or "")
    try:
        errors = json.loads(text).get("errors") or []
        parts = [
            f"{e.get('field')}: {e.get('message')}" if e.get("field") else str(e.get("message"))
            for e in errors
        ]
        text = "; ".join(parts) or text
    except (ValueError, AttributeError):
        pass
    return scrub(f"SendGrid {status}: {text}")[:2000]


class SendGridTransport:
    """v3 mail/send through the ``sendgrid`` library; ``base_url`` replaces SendGrid's API base
    (sandboxes, tests)."""

    name = "sendgrid"

    def __init__(self, api_key: str, base_url: str | None = None, timeout_s: float = SENDGRID_TIMEOUT_S):
        from sendgrid import SendGridAPIClient

        if not api_key:
            raise AuthFailed("no SendGrid API key: set the password of the `sendgrid_default` connection")
        self.base_url = (base_url or SENDGRID_API).rstrip("/")
        self.timeout_s = timeout_s
        self._client = SendGridAPIClient(api_key=api_key, host=self.base_url)

    def deliver(self, body: dict[str, Any]) -> Accepted:
        from python_http_client.exceptions import HTTPError

        try:
            response = self._client.client.mail.send.post(
                request_body=header_safe_body(body), timeout=self.timeout_s
            )
        except HTTPError as exc:
            status = int(exc.status_code)
            headers = exc.headers or {}
            if status == 429:
                reset = headers.get("X-RateLimit-Reset") if hasattr(headers, "get") else None
                raise RateLimited(float(reset) if reset else None) from None
            text = _sendgrid_error_text(status, exc.body)
            if status in (401, 403):
                raise AuthFailed(text) from None
            if status >= 500:
                raise Unavailable(text) from None
            by_personalization = _sendgrid_errors_by_personalization(exc.body) if status == 400 else {}
            raise Rejected(text, by_personalization) from None
        except TimeoutError as exc:
            raise Unavailable(
                f"SendGrid timed out after {self.timeout_s:g}s ({type(exc).__name__})", maybe_sent=True
            ) from None
        except (urllib.error.URLError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            # Refused or unresolvable: the request never left. Anything else may have reached SendGrid.
            maybe = not isinstance(reason, ConnectionRefusedError | socket.gaierror)
            raise Unavailable(
                f"SendGrid unreachable at {self.base_url}: {type(reason).__name__}", maybe_sent=maybe
            ) from None
        if response.status_code not in (200, 202):
            raise Unavailable(f"SendGrid answered {response.status_code}")
        return Accepted(message_id=response.headers.get("X-Message-Id"))


# RFC 5322 allows 998-character lines. The default policy folds at 78 and, with nothing to fold
# on, RFC 2047-encodes a long List-Unsubscribe URL, which mail clients then cannot use.
_MIME_POLICY = email.policy.default.clone(max_line_length=998)


def _maybe_in_headers(body: dict[str, Any]) -> str:
    """Everything of a v3 body that may end up in a header, joined: one scan says whether any needs fixing."""
    subject = body.get("subject") or ""
    parts = [subject]
    for key in ("from", "reply_to"):
        if isinstance(body.get(key), dict):
            parts.append(body[key].get("name") or "")
    if body.get("headers"):
        parts.extend(body["headers"])
        parts.extend(body["headers"].values())
    extend, append = parts.extend, parts.append
    tags: Any = None  # the batch's personalizations share their substitution tags: found in the subject once
    in_subject: tuple[str, ...] = ()
    for p in body.get("personalizations") or ():
        own_subject = p.get("subject")
        if own_subject:
            append(own_subject)
            tags = None  # its own subject: look again which of its tags it shows
        if "substitutions" in p:
            subs = p["substitutions"]
            if subs.keys() != tags:
                tags = subs.keys()
                in_subject = tuple(k for k in subs if k in (own_subject or subject))
            for k in in_subject:
                append(subs[k])
        if "headers" in p:
            extend(p["headers"])
            extend(p["headers"].values())
        for t in p.get("to") or ():
            if "name" in t:
                append(t["name"] or "")
        if "cc" in p or "bcc" in p:
            for t in (p.get("cc") or []) + (p.get("bcc") or []):
                if "name" in t:
                    append(t["name"] or "")
    return "".join(parts)


def _safe_people(people: list[dict[str, str]] | None) -> list[dict[str, str]] | None:
    return (
        [{**t, "name": header_safe(t["name"])} if t.get("name") else t for t in people] if people else people
    )


def header_safe_body(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with every value that ends up in a header made header-safe (a copy when anything changes).

    Subjects, display names (from, reply_to, to/cc/bcc), custom headers, and the
    substitutions whose tags occur in a subject (SendGrid substitutes into the subject too).
    One scan finds out whether anything needs it; nearly always nothing does.
    """
    if not has_unsafe_header_chars(_maybe_in_headers(body)):
        return body
    out = dict(body)
    if out.get("subject"):
        out["subject"] = header_safe(out["subject"])
    for key in ("from", "reply_to"):
        if isinstance(out.get(key), dict) and out[key].get("name"):
            out[key] = {**out[key], "name": header_safe(out[key]["name"])}
    if out.get("headers"):
        out["headers"] = {header_safe(k): header_safe(v) for k, v in out["headers"].items()}
    personalizations = []
    for p in body.get("personalizations") or []:
        q = dict(p)
        subject = p.get("subject") or body.get("subject") or ""
        if p.get("subject"):
            q["subject"] = header_safe(p["subject"])
        if p.get("substitutions"):
            q["substitutions"] = {
                k: header_safe(v) if k in subject else v for k, v in p["substitutions"].items()
            }
        for key in ("to", "cc", "bcc"):
            if p.get(key):
                q[key] = _safe_people(p[key])
        if p.get("headers"):
            q["headers"] = {header_safe(k): header_safe(v) for k, v in p["headers"].items()}
        personalizations.append(q)
    out["personalizations"] = personalizations
    return out


def _message(body: dict[str, Any], p: dict[str, Any]) -> tuple[str | None, EmailMessage]:
    sender = body["from"]
    subs = p.get("substitutions") or {}
    args = {**(body.get("custom_args") or {}), **(p.get("custom_args") or {})}
    msg = EmailMessage(policy=_MIME_POLICY)
    msg["From"] = formataddr((header_safe(sender.get("name") or ""), sender["email"]))
    msg["To"] = ", ".join(formataddr((header_safe(t.get("name") or ""), t["email"])) for t in p["to"])
    msg["Subject"] = header_safe(apply_substitutions(p.get("subject") or body.get("subject") or "", subs))
    msg["Message-ID"] = make_msgid(domain=sender["email"].split("@")[-1])
    for name, value in {**(body.get("headers") or {}), **(p.get("headers") or {})}.items():
        msg[header_safe(name)] = header_safe(value)
    if args.get("send_id"):
        msg["X-Funnelflow-Send-Id"] = header_safe(args["send_id"])
    parts = {c["type"]: apply_substitutions(c["value"], subs) for c in body["content"]}
    msg.set_content(parts.get("text/plain", ""))
    if "text/html" in parts:
        msg.add_alternative(parts["text/html"], subtype="html")
    _attach(msg, body.get("attachments") or ())
    return args.get("send_id") or None, msg


def expand(body: dict[str, Any]) -> tuple[list[tuple[str | None, EmailMessage]], dict[str, str]]:
    """One MIME message per personalization of a v3 body, substitutions applied:
    ``([(send_id, message)], refused)``.

    A personalization that cannot be made into a message (an address the email library
    refuses, say) is refused alone, by send id; one without a send id (an operations
    alert) raises ``Rejected``.
    """
    out: list[tuple[str | None, EmailMessage]] = []
    refused: dict[str, str] = {}
    for p in body["personalizations"]:
        try:
            out.append(_message(body, p))
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            send_id = (p.get("custom_args") or {}).get("send_id")
            reason = scrub(f"message could not be built: {type(exc).__name__}: {exc}")[:500]
            if not send_id:
                raise Rejected(reason) from None
            refused[send_id] = reason
    return out, refused


def _attach(msg: EmailMessage, attachments: list[dict[str, Any]]) -> None:
    """SendGrid ``attachments`` as MIME parts: inline images beside the HTML part, files at the end."""
    inline = [a for a in attachments if a.get("disposition") == "inline" and a.get("content_id")]
    files = [a for a in attachments if a not in inline]
    html_part = next((p for p in msg.iter_parts() if p.get_content_type() == "text/html"), None)
    for item in inline:
        maintype, subtype = item["type"].split("/", 1)
        target = html_part if html_part is not None else msg
        target.add_related(
            base64.b64decode(item["content"]),
            maintype=maintype,
            subtype=subtype,
            cid=f"<{item['content_id']}>",
            filename=item.get("filename"),
            disposition="inline",
        )
    for item in files:
        maintype, subtype = item["type"].split("/", 1)
        msg.add_attachment(
            base64.b64decode(item["content"]),
            maintype=maintype,
            subtype=subtype,
            filename=item.get("filename"),
        )


class OutboxTransport:
    """Writes each message as ``<send id>.eml`` under FUNNELFLOW_HOME/outbox (the demo's default)."""

    name = "outbox"

    def __init__(self, folder: Path | None = None):
        self.folder = folder or settings.funnelflow_home() / "outbox"

    def deliver(self, body: dict[str, Any]) -> Accepted:
        self.folder.mkdir(parents=True, exist_ok=True)
        messages, refused = expand(body)
        for send_id, msg in messages:
            name = f"{send_id}.eml" if send_id else f"{msg['Message-ID'].strip('<>').split('@')[0]}.eml"
            tmp = self.folder / f".{name}.tmp"
            tmp.write_bytes(bytes(msg))
            os.replace(tmp, self.folder / name)  # a reader never sees half a message
        return Accepted(message_id=None, refused=refused)


class SmtpTransport:
    """Plain SMTP, for Mailpit in docker-compose (no TLS or login: a local catcher)."""

    name = "smtp"

    def __init__(self, host: str, port: int, timeout_s: float = 30.0):
        self.host, self.port, self.timeout_s = host, port, timeout_s

    def deliver(self, body: dict[str, Any]) -> Accepted:
        messages, refused = expand(body)
        attempted = 0
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                for send_id, msg in messages:
                    attempted += 1
                    try:
                        smtp.send_message(msg)
                    except (
                        smtplib.SMTPRecipientsRefused,
                        smtplib.SMTPSenderRefused,
                        smtplib.SMTPDataError,
                    ) as exc:
                        # This message only: smtplib resets the session, the next one goes on.
                        reason = scrub(f"SMTP refused: {exc}")[:2000]
                        if send_id is None:
                            raise Rejected(reason) from None
                        refused[send_id] = reason
        except smtplib.SMTPAuthenticationError as exc:
            raise AuthFailed(f"SMTP {exc.smtp_code}: authentication failed") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise Unavailable(
                f"SMTP {self.host}:{self.port} unavailable: {type(exc).__name__}",
                maybe_sent=attempted > 0,  # a message may have been taken before the line broke
            ) from None
        return Accepted(message_id=None, refused=refused)


def transport_from_settings(
    sendgrid_api_key: str | None = None, sendgrid_base_url: str | None = None
) -> Transport:
    """The transport FUNNELFLOW_EMAIL_TRANSPORT names; the SendGrid key and base URL come from the caller
    (a connection)."""
    name = (settings.env("FUNNELFLOW_EMAIL_TRANSPORT", "outbox") or "outbox").strip().lower()
    if name == "sendgrid":
        return SendGridTransport(sendgrid_api_key or "", sendgrid_base_url)
    if name == "smtp":
        return SmtpTransport(
            settings.env("FUNNELFLOW_SMTP_HOST", "localhost") or "localhost",
            settings.env_int("FUNNELFLOW_SMTP_PORT", 1025),
        )
    if name == "outbox":
        return OutboxTransport()
    raise ValueError(f"FUNNELFLOW_EMAIL_TRANSPORT must be one of {', '.join(TRANSPORTS)}, got {name!r}")


def sendgrid_base_url_from_host(host: str | None) -> str | None:
    """A connection host that is a full URL replaces SendGrid's API base; a bare host name does not."""
    if host and re.match(r"^https?://", host.strip()):
        return host.strip().rstrip("/")
    return None
