"""Validation and normalization of mapped lead rows, vectorized over a chunk.

Work that depends only on a value's domain or a country (domain syntax, the
country calling code) is computed once per distinct value, not per row. A row
is rejected for: no email and no phone (nor an external id), a malformed email,
or a field longer than its column. Everything else (names with HTML, formula
text, unknown countries) is kept as plain text, never evaluated.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

import pandas as pd

from funnelflow.identity import email_key

# Longest value each lead column takes (the schema's String lengths).
FIELD_LIMITS: dict[str, int] = {
    "email": 320, "first_name": 120, "last_name": 120, "company": 255, "job_title": 255, "phone": 64,
    "external_id": 255, "campaign": 255, "utm_source": 255, "utm_medium": 255, "utm_campaign": 255,
    "utm_term": 255, "utm_content": 255, "page_url": 4000,
}
TEXT_FIELDS = ("first_name", "last_name", "company", "job_title", "phone", "external_id", "original_source",
               "campaign", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "page_url")

REASON_NO_CONTACT = "no email and no phone"
REASON_BAD_EMAIL = "malformed email"
REASON_BAD_PHONE = "no email and the phone is not a valid number"

# Local part: anything but spaces, quotes, brackets and separators; domain checked per domain below.
# An apostrophe is fine before the @ (o'brien@...), never after it.
_EMAIL_SHAPE = r"^[^@\s\"<>(),;:\[\]\\]+@[^@\s\"'<>(),;:\[\]\\]+$"
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")

_TRUE = {"1", "true", "yes", "y", "x", "ja", "oui", "si", "sí", "opted in", "opt-in", "opt in", "granted", "checked", "wahr", "vrai"}
_FALSE = {"0", "false", "no", "n", "nein", "non", "opted out", "opt-out", "opt out", "denied", "unchecked", "falsch", "faux"}
_LEGAL = {"consent": "consent", "einwilligung": "consent", "consentement": "consent",
          "legitimate interest": "legitimate_interest", "legitimate_interest": "legitimate_interest",
          "berechtigtes interesse": "legitimate_interest", "intérêt légitime": "legitimate_interest",
          "interet legitime": "legitimate_interest", "contract": "contract", "vertrag": "contract",
          "performance of a contract": "contract", "contrat": "contract"}

COUNTRY_NAMES: dict[str, str] = {
    "united states": "US", "united states of america": "US", "usa": "US", "us": "US", "u.s.": "US", "u.s.a.": "US",
    "vereinigte staaten": "US", "états-unis": "US", "etats-unis": "US", "united kingdom": "GB", "uk": "GB",
    "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "vereinigtes königreich": "GB",
    "royaume-uni": "GB", "germany": "DE", "deutschland": "DE", "allemagne": "DE", "france": "FR", "frankreich": "FR",
    "austria": "AT", "österreich": "AT", "autriche": "AT", "switzerland": "CH", "schweiz": "CH", "suisse": "CH",
    "netherlands": "NL", "the netherlands": "NL", "niederlande": "NL", "pays-bas": "NL", "holland": "NL",
    "belgium": "BE", "belgien": "BE", "belgique": "BE", "spain": "ES", "spanien": "ES", "espagne": "ES", "españa": "ES",
    "italy": "IT", "italien": "IT", "italie": "IT", "italia": "IT", "portugal": "PT", "ireland": "IE", "irland": "IE",
    "irlande": "IE", "sweden": "SE", "schweden": "SE", "suède": "SE", "norway": "NO", "norwegen": "NO",
    "denmark": "DK", "dänemark": "DK", "danemark": "DK", "finland": "FI", "finnland": "FI", "poland": "PL",
    "polen": "PL", "pologne": "PL", "czech republic": "CZ", "czechia": "CZ", "tschechien": "CZ", "canada": "CA",
    "kanada": "CA", "mexico": "MX", "brazil": "BR", "brasilien": "BR", "brésil": "BR", "australia": "AU",
    "australien": "AU", "australie": "AU", "new zealand": "NZ", "japan": "JP", "japon": "JP", "china": "CN",
    "chine": "CN", "india": "IN", "indien": "IN", "inde": "IN", "singapore": "SG", "israel": "IL",
    "south africa": "ZA", "luxembourg": "LU", "luxemburg": "LU",
}


@lru_cache(maxsize=1)
def _region_codes() -> frozenset[str]:
    import phonenumbers

    return frozenset(phonenumbers.SUPPORTED_REGIONS)


@lru_cache(maxsize=1024)
def country_code(raw: str) -> str | None:
    """ISO 3166-1 alpha-2 for a code or a common English/German/French country name; None if unknown."""
    value = raw.strip()
    if not value:
        return None
    if len(value) == 2 and value.upper() in _region_codes():
        return value.upper()
    return COUNTRY_NAMES.get(value.casefold())


@lru_cache(maxsize=1024)
def calling_code(country: str | None) -> str | None:
    if not country:
        return None
    import phonenumbers

    code = phonenumbers.country_code_for_region(country)
    return str(code) if code else None


@lru_cache(maxsize=200_000)
def valid_domain(domain: str) -> bool:
    """Syntax of the part after the @ (checked once per distinct domain): labels, a letter TLD."""
    try:
        ascii_domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        return False
    if len(ascii_domain) > 253 or "." not in ascii_domain:
        return False
    labels = ascii_domain.split(".")
    tld = labels[-1]
    return all(_LABEL.match(label) for label in labels) and (tld.isalpha() or tld.startswith("xn--")) and len(tld) >= 2


def _map_unique(values: pd.Series, func) -> pd.Series:
    """Apply ``func`` once per distinct value (exports repeat countries, flags, domains a lot)."""
    items = values.tolist()
    lookup = {value: func(value) for value in set(items)}
    return pd.Series([lookup[v] for v in items], index=values.index, dtype=object)


_EMAIL_RE = re.compile(_EMAIL_SHAPE)


def email_facts(raw: str) -> tuple[str, str | None, str | None]:
    """(address as typed, lower-cased; its email key or None if malformed; its domain)."""
    email = raw.strip().strip("<>").strip().lower()
    if email.startswith("mailto:"):
        email = email[7:]
    if not email or not _EMAIL_RE.match(email):
        return email, None, None
    local, domain = email.rsplit("@", 1)
    # RFC 5321 dot-atom: no leading, trailing or doubled dot in the local part.
    if local.startswith(".") or local.endswith(".") or ".." in local or not valid_domain(domain):
        return email, None, None
    return email, email_key(email), domain


_PHONE_EXT = re.compile(r"(?i)\s*(ext\.?|x|durchwahl)\s*\d+$")
_NOT_DIGIT = re.compile(r"[^\d+]")


def _phone_pair_e164(pair: str) -> str | None:
    if not pair:
        return None
    phone, _, country = pair.partition("\x1f")
    return phone_e164(phone, country or None)


def phone_e164(phone: str, country: str | None) -> str | None:
    """E.164 from what people type: +/00 international form, else national digits with the country's code.

    The calling code is looked up once per country. Numbers that cannot be made
    8 to 15 digits long get no E.164 (the typed phone is still kept).
    """
    digits = _NOT_DIGIT.sub("", _PHONE_EXT.sub("", phone))
    if digits.startswith("+"):
        number = digits[1:].replace("+", "")
    elif digits.startswith("00"):
        number = digits[2:].replace("+", "")
    else:
        code = calling_code(country)
        if not code:
            return None
        national = digits.replace("+", "").lstrip("0")
        number = national if national.startswith(code) and len(national) > 10 else code + national
    if not 8 <= len(number) <= 15 or number.startswith("0"):
        return None
    return "+" + number


def _fold_flag(value: str) -> bool | None:
    folded = value.strip().casefold()
    if not folded:
        return None
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    return None


def _consent_status(value: str) -> str | None:
    folded = value.strip().casefold()
    if folded in {"pending", "ausstehend", "en attente"}:
        return "pending"
    if folded in {"withdrawn", "widerrufen", "retiré"}:
        return "withdrawn"
    flag = _fold_flag(folded)
    return None if flag is None else ("granted" if flag else "denied")


def _parse_times(values: pd.Series, fallback: datetime) -> pd.Series:
    """Parse once per distinct text; anything unparseable (or blank) is the run's as-of time."""
    uniques = pd.Series(values.unique())
    parsed = pd.to_datetime(uniques, errors="coerce", utc=True, format="ISO8601")
    retry = parsed.isna() & (uniques != "")
    if retry.any():  # US/European export formats: slower, per value, only for what ISO could not read
        parsed[retry] = pd.to_datetime(uniques[retry], errors="coerce", utc=True, format="mixed")
    lookup = dict(zip(uniques, parsed, strict=True))
    out = values.map(lookup)
    out = out.where(out.notna(), pd.Timestamp(fallback))
    return pd.to_datetime(out, utc=True)


def normalize_frame(df: pd.DataFrame, as_of: datetime) -> tuple[pd.DataFrame, pd.Series]:
    """Clean a chunk of mapped rows (canonical columns, all strings); returns (frame, reject reason per row).

    The reject Series is empty text for rows that pass. The frame gains email_key,
    email_domain, phone_e164, country (alpha-2), consent_status, legal_basis,
    do_not_email, occurred_at and match_key.
    """
    from funnelflow.ingest.mapping import CANONICAL_FIELDS

    out = pd.DataFrame(index=df.index)
    for name in CANONICAL_FIELDS:
        col = df[name] if name in df.columns else pd.Series("", index=df.index, dtype=object)
        out[name] = col.astype(str).str.strip()
    # Excel and exports pad names with invisible characters; control characters never belong in a field.
    for name in ("first_name", "last_name", "company", "job_title"):
        out[name] = out[name].str.replace(r"[\x00-\x08\x0b-\x1f\x7f]", "", regex=True)
    need_split = (out["first_name"] == "") & (out["last_name"] == "") & (out["full_name"] != "")
    if need_split.any():
        parts = out.loc[need_split, "full_name"].str.rsplit(" ", n=1, expand=True)
        if parts.shape[1] == 2:
            out.loc[need_split, "first_name"] = parts[0].fillna("")
            out.loc[need_split, "last_name"] = parts[1].fillna("")
        else:
            out.loc[need_split, "last_name"] = parts[0].fillna("")

    items = out["email"].tolist()
    lookup = {value: email_facts(value) for value in set(items)}
    emails, keys, domains = zip(*(lookup[v] for v in items), strict=True) if items else ((), (), ())
    email = pd.Series(emails, index=df.index, dtype=object)
    out["email"] = email.where(email != "", None)
    has_email = email != ""
    out["email_key"] = pd.Series(keys, index=df.index, dtype=object)
    email_ok = out["email_key"].notna()
    out["email_domain"] = pd.Series(domains, index=df.index, dtype=object)

    out["country"] = _map_unique(out["country"], country_code)
    pairs = out["phone"] + "\x1f" + out["country"].fillna("")
    out["phone_e164"] = _map_unique(pairs.where(out["phone"] != "", ""), _phone_pair_e164)
    out["external_id"] = out["external_id"]
    out["consent_status"] = _map_unique(out["consent"], _consent_status)
    out["legal_basis"] = _map_unique(out["legal_basis"], lambda v: _LEGAL.get(v.strip().casefold()))
    out["do_not_email"] = _map_unique(out["do_not_email"], _fold_flag).fillna(False).astype(bool)
    out["occurred_at"] = _parse_times(out["occurred_at"], as_of)

    reason = pd.Series("", index=df.index, dtype=object)
    for name, limit in FIELD_LIMITS.items():
        too_long = out[name].str.len() > limit
        if too_long.any():
            lengths = out.loc[too_long, name].str.len()
            reason = reason.where(~too_long | (reason != ""),
                                  lengths.map(lambda n, f=name, lim=limit: f"field too long: {f} ({n} characters, at most {lim})"))
    bad_email = has_email & ~email_ok
    reason = reason.where(~bad_email | (reason != ""), REASON_BAD_EMAIL)
    no_contact = ~has_email & (out["phone"] == "")
    reason = reason.where(~no_contact | (reason != ""), REASON_NO_CONTACT)
    # A typed phone that is no number is usable only with the source's own id for the person.
    bad_phone = ~has_email & (out["phone"] != "") & out["phone_e164"].isna() & (out["external_id"] == "")
    reason = reason.where(~bad_phone | (reason != ""), REASON_BAD_PHONE)
    reason = reason.fillna("")

    match_key = ("e:" + out["email_key"].fillna("")).where(out["email_key"].notna(), None)
    match_key = match_key.where(match_key.notna(), ("p:" + out["phone_e164"].fillna("")).where(out["phone_e164"].notna(), None))
    match_key = match_key.where(match_key.notna(), ("x:" + out["external_id"]).where(out["external_id"] != "", None))
    out["match_key"] = match_key
    for name in TEXT_FIELDS + ("email",):
        out[name] = out[name].where(out[name] != "", None)
    return out, reason
