"""Who a person is: the canonical email key, its hash, and the phone key.

``email_key`` is the one dedupe key every source and every later step uses:
trimmed, lower-cased, ``+tags`` removed, and for Gmail the dots removed too
(Gmail ignores them, so ``Jane.Doe+ads@gmail.com`` is ``janedoe@gmail.com``).
``email_hash`` is what we store wherever an address is not needed (sends,
events, suppressions, Airflow params), so records survive erasure without
keeping the address.
"""

from __future__ import annotations

import hashlib

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def normalize_email(raw: str | None) -> str | None:
    """The address as typed, trimmed and lower-cased; None for blank input."""
    if raw is None:
        return None
    value = str(raw).strip().strip("<>").strip().lower()
    return value or None


def email_key(raw: str | None) -> str | None:
    """Canonical dedupe key of an address, or None when there is no usable address."""
    email = normalize_email(raw)
    if not email or email.count("@") != 1:
        return None
    local, domain = email.split("@")
    domain = domain.rstrip(".")
    if not local or not domain:
        return None
    local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        local = local.replace(".", "")
        domain = "gmail.com"
    if not local:
        return None
    return f"{local}@{domain}"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def email_hash(raw: str | None) -> str | None:
    """SHA-256 of the email key: how we name a person without their address."""
    key = email_key(raw)
    return hash_key(key) if key else None
