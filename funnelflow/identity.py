"""Who a person is: the canonical email key, its hash, and the phone key.

``phone_e164`` is the one phone key: ingestion matches people on it and
qualification stores it, so both always agree.

``email_key`` is the one dedupe key every source and every later step uses:
trimmed, lower-cased, ``+tags`` removed, and for Gmail the dots removed too
(Gmail ignores them, so ``Jane.Doe+ads@gmail.com`` is ``janedoe@gmail.com``).
``email_hash`` is what we store wherever an address is not needed (sends,
events, suppressions, Airflow params), so records survive erasure without
keeping the address.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

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


_PHONE_EXT = re.compile(r"(?i)\s*(ext\.?|x|durchwahl)\s*\d+$")
_NOT_DIGIT = re.compile(r"[^\d+]")


@lru_cache(maxsize=512)
def _region_prefixes(country: str | None) -> tuple[int, str] | None:
    """(calling code, national trunk prefix or "") of a two-letter region, from phonenumbers' metadata."""
    import phonenumbers

    region = country.upper() if country and len(country) == 2 else None
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region) if region else None
    if metadata is None:
        return None
    return metadata.country_code, metadata.national_prefix or ""


def _split_international(digits: str) -> tuple[int, str] | None:
    import phonenumbers

    for n in (1, 2, 3):
        if len(digits) > n and int(digits[:n]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return int(digits[:n]), digits[n:]
    return None


@lru_cache(maxsize=512)
def _national_lengths(code: int) -> frozenset[int]:
    """The lengths a full national number may have under a calling code (phonenumbers' metadata)."""
    import phonenumbers

    region = phonenumbers.region_code_for_country_code(code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    if metadata is None or metadata.general_desc is None:
        return frozenset()
    return frozenset(metadata.general_desc.possible_length or ())


def _possible(code: int, national: str) -> bool:
    return len(national) in _national_lengths(code)


def phone_e164(raw: str | None, country: str | None) -> str | None:
    """The number in E.164 (``+4930123456``), or None when it cannot be a phone number.

    Read with phonenumbers' metadata and the row's country as the default region:
    ``+``/``00`` starts the international form; otherwise the region's trunk prefix
    (``0`` in Germany) is dropped and its calling code put in front. An extension
    (``x12``, ``ext. 12``) is dropped. The result must be a possible number for its
    region (its length); phonenumbers' full parse and validation cost 100 times as
    much per row, which ingestion cannot spend on a million rows.
    """
    if not raw:
        return None
    phone = str(raw)
    if phone.upper() != phone.lower():  # letters: maybe an extension to drop first
        phone = _PHONE_EXT.sub("", phone)
    digits = _NOT_DIGIT.sub("", phone.replace("(0)", ""))  # "+49 (0)30 ...": the trunk 0 in brackets
    if digits.startswith("+") or digits.startswith("00"):
        split = _split_international(digits.lstrip("+").removeprefix("00").replace("+", ""))
        if split is None:
            return None
        code, national = split
    else:
        prefixes = _region_prefixes(country)
        if prefixes is None:
            return None
        code, trunk = prefixes
        national = digits.replace("+", "")
        if trunk and national.startswith(trunk):
            national = national[len(trunk) :]
        elif national.startswith(str(code)) and _possible(code, national[len(str(code)) :]):
            national = national[len(str(code)) :]  # the calling code typed without + or 00
    if not national or not _possible(code, national):
        return None
    return f"+{code}{national}"
