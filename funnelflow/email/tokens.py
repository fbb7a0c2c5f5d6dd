"""Signed tokens for links in emails (unsubscribe, confirm, ...), carrying ids, never addresses.

A token is ``<purpose-id>.<subject id>.<signature>``: the signature is an HMAC of
the purpose and id with FUNNELFLOW_SECRET_KEY, so nobody can act for someone
else by guessing. A *scoped* token also names the thing the link is about by its
slug (``<purpose-id>.<slug>.<subject id>.<signature>``: a webinar invitation names
the webinar and the lead), and the signature covers the slug too. Without the
setting (local demo only) a random key is made
once and kept in FUNNELFLOW_HOME/secret_key.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from collections.abc import Callable

from funnelflow import settings

# Indexes are part of every token already sent: append new purposes, never reorder.
PURPOSES = (
    "unsubscribe",
    "confirm",
    "sales_item",
    "webinar_cancel",
)  # sales_item: a rep's Accept/Reject links;
# webinar_cancel: a webinar registration id
# webinar_invite: a webinar slug and a lead id; offer: a campaign slug and a lead id (a limited-time offer).
SCOPED_PURPOSES = ("webinar_invite", "offer")


class InvalidToken(ValueError):
    pass


def _key() -> bytes:
    configured = settings.env("FUNNELFLOW_SECRET_KEY")
    if configured:
        return configured.encode("utf-8")
    path = settings.funnelflow_home() / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip().encode("utf-8")


def _sign(purpose: str, subject_id: int, key: bytes | None = None) -> str:
    # hmac.digest: one OpenSSL call (a send signs an unsubscribe link per message).
    mac = hmac.digest(key or _key(), f"{purpose}:{subject_id}".encode(), "sha256")
    return base64.urlsafe_b64encode(mac[:18]).decode("ascii")


def make_token(purpose: str, subject_id: int) -> str:
    return token_maker(purpose)(subject_id)


def token_maker(purpose: str) -> Callable[[int], str]:
    """``make_token`` for one purpose with the key read once: a send signs an unsubscribe link per message."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    key, kind = _key(), PURPOSES.index(purpose)

    def make(subject_id: int) -> str:
        subject_id = int(subject_id)
        return f"{kind}.{subject_id}.{_sign(purpose, subject_id, key)}"

    return make


# Exactly what make_token writes: one spelling per id (no sign, no leading zero, ASCII digits, at most a
# BIGINT), and the 24 URL-safe base64 characters of the signature. Anything else is not ours.
_TOKEN_RE = re.compile(r"([0-9])\.(0|[1-9][0-9]{0,18})\.([A-Za-z0-9_-]{24})", re.ASCII)
MAX_SUBJECT_ID = 2**63 - 1


def read_token(purpose: str, token: str) -> int:
    """The subject id a valid token names; ``InvalidToken`` otherwise."""
    match = _TOKEN_RE.fullmatch(token)
    if match is None or int(match.group(2)) > MAX_SUBJECT_ID:
        raise InvalidToken("malformed token")
    kind, raw_id, sig = match.groups()
    subject_id = int(raw_id)
    if kind != str(PURPOSES.index(purpose)) or not hmac.compare_digest(sig, _sign(purpose, subject_id)):
        raise InvalidToken("token signature does not match")
    return subject_id


_SCOPED_RE = re.compile(
    r"([0-9])\.([a-z0-9][a-z0-9-]{0,119})\.(0|[1-9][0-9]{0,18})\.([A-Za-z0-9_-]{24})", re.ASCII
)


def make_scoped_token(purpose: str, scope: str, subject_id: int) -> str:
    """A token naming ``scope`` (a slug) and ``subject_id``, signed together."""
    return scoped_token_maker(purpose)(scope, subject_id)


def scoped_token_maker(purpose: str) -> Callable[[str, int], str]:
    """``make_scoped_token`` for one purpose with the key read once: a campaign signs a million links.

    The signature is the one ``_sign(f"{purpose}:{scope}", subject_id)`` gives, so
    ``read_scoped_token`` reads what this makes.
    """
    if purpose not in SCOPED_PURPOSES:
        raise ValueError(f"unknown scoped token purpose {purpose!r}")
    key, digest, encode = _key(), hmac.digest, base64.urlsafe_b64encode  # hmac.digest: OpenSSL, one call
    kind = SCOPED_PURPOSES.index(purpose)
    checked: set[str] = set()

    def make(scope: str, subject_id: int) -> str:
        subject_id = int(subject_id)
        if not 0 <= subject_id <= MAX_SUBJECT_ID:
            raise ValueError(f"a token names an id from 0 to {MAX_SUBJECT_ID}")
        mac = digest(key, f"{purpose}:{scope}:{subject_id}".encode(), "sha256")
        signature = encode(mac[:18]).decode("ascii")
        token = f"{kind}.{scope}.{subject_id}.{signature}"
        if scope not in checked:
            if not _SCOPED_RE.fullmatch(token):
                raise ValueError("a token scope is a slug: lower-case letters, digits and '-'")
            checked.add(scope)
        return token

    return make


def read_scoped_token(purpose: str, token: str) -> tuple[str, int]:
    """The (scope, subject id) a valid scoped token names; ``InvalidToken`` otherwise."""
    match = _SCOPED_RE.fullmatch(token)
    if match is None or int(match.group(3)) > MAX_SUBJECT_ID:
        raise InvalidToken("malformed token")
    kind, scope, raw_id, sig = match.groups()
    subject_id = int(raw_id)
    expected = _sign(f"{purpose}:{scope}", subject_id)
    if kind != str(SCOPED_PURPOSES.index(purpose)) or not hmac.compare_digest(sig, expected):
        raise InvalidToken("token signature does not match")
    return scope, subject_id
