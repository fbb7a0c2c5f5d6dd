"""Validation and normalization of mapped lead rows, one record at a time (``RecordNormalizer``).

Work that depends only on a value's domain or a country (domain syntax, the
country calling code) is computed once per distinct value, not per row. A row
is rejected for: no email and no phone (nor an external id), a malformed email,
or a field longer than its column. Everything else (names with HTML, formula
text, unknown countries) is kept as plain text, never evaluated.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from funnelflow.identity import email_key, phone_e164
from funnelflow.ingest.mapping import CANONICAL_FIELDS

if TYPE_CHECKING:
    import pandas as pd

# Longest value each lead column takes (the schema's String lengths).
FIELD_LIMITS: dict[str, int] = {
    "email": 320,
    "first_name": 120,
    "last_name": 120,
    "company": 255,
    "job_title": 255,
    "phone": 64,
    "external_id": 255,
    "campaign": 255,
    "utm_source": 255,
    "utm_medium": 255,
    "utm_campaign": 255,
    "utm_term": 255,
    "utm_content": 255,
    "page_url": 4000,
}
REASON_NO_CONTACT = "no email and no phone"
REASON_BAD_EMAIL = "malformed email"
REASON_BAD_PHONE = "no email and the phone is not a valid number"
REASON_EMAIL_TOO_LONG = "email too long"
# RFC 5321 section 4.5.3.1: a local part of at most 64 octets; a path of 256 octets, less the angle
# brackets, leaves 254 for the whole address.
MAX_LOCAL_PART_OCTETS = 64
MAX_EMAIL_OCTETS = 254

# Local part: anything but spaces, quotes, brackets and separators; domain checked per domain below.
# An apostrophe is fine before the @ (o'brien@...), never after it.
_EMAIL_SHAPE = r"^[^@\s\"<>(),;:\[\]\\]+@[^@\s\"'<>(),;:\[\]\\]+$"
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")

_TRUE = {
    "1",
    "true",
    "yes",
    "y",
    "x",
    "ja",
    "oui",
    "si",
    "sí",
    "opted in",
    "opt-in",
    "opt in",
    "granted",
    "checked",
    "wahr",
    "vrai",
}
_FALSE = {
    "0",
    "false",
    "no",
    "n",
    "nein",
    "non",
    "opted out",
    "opt-out",
    "opt out",
    "denied",
    "unchecked",
    "falsch",
    "faux",
}
_LEGAL = {
    "consent": "consent",
    "einwilligung": "consent",
    "consentement": "consent",
    "legitimate interest": "legitimate_interest",
    "legitimate_interest": "legitimate_interest",
    "berechtigtes interesse": "legitimate_interest",
    "intérêt légitime": "legitimate_interest",
    "interet legitime": "legitimate_interest",
    "contract": "contract",
    "vertrag": "contract",
    "performance of a contract": "contract",
    "contrat": "contract",
}

COUNTRY_NAMES: dict[str, str] = {
    "united states": "US",
    "united states of america": "US",
    "usa": "US",
    "us": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "vereinigte staaten": "US",
    "états-unis": "US",
    "etats-unis": "US",
    "united kingdom": "GB",
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "vereinigtes königreich": "GB",
    "royaume-uni": "GB",
    "germany": "DE",
    "deutschland": "DE",
    "allemagne": "DE",
    "france": "FR",
    "frankreich": "FR",
    "austria": "AT",
    "österreich": "AT",
    "autriche": "AT",
    "switzerland": "CH",
    "schweiz": "CH",
    "suisse": "CH",
    "netherlands": "NL",
    "the netherlands": "NL",
    "niederlande": "NL",
    "pays-bas": "NL",
    "holland": "NL",
    "belgium": "BE",
    "belgien": "BE",
    "belgique": "BE",
    "spain": "ES",
    "spanien": "ES",
    "espagne": "ES",
    "españa": "ES",
    "italy": "IT",
    "italien": "IT",
    "italie": "IT",
    "italia": "IT",
    "portugal": "PT",
    "ireland": "IE",
    "irland": "IE",
    "irlande": "IE",
    "sweden": "SE",
    "schweden": "SE",
    "suède": "SE",
    "norway": "NO",
    "norwegen": "NO",
    "denmark": "DK",
    "dänemark": "DK",
    "danemark": "DK",
    "finland": "FI",
    "finnland": "FI",
    "poland": "PL",
    "polen": "PL",
    "pologne": "PL",
    "czech republic": "CZ",
    "czechia": "CZ",
    "tschechien": "CZ",
    "canada": "CA",
    "kanada": "CA",
    "mexico": "MX",
    "brazil": "BR",
    "brasilien": "BR",
    "brésil": "BR",
    "australia": "AU",
    "australien": "AU",
    "australie": "AU",
    "new zealand": "NZ",
    "japan": "JP",
    "japon": "JP",
    "china": "CN",
    "chine": "CN",
    "india": "IN",
    "indien": "IN",
    "inde": "IN",
    "singapore": "SG",
    "israel": "IL",
    "south africa": "ZA",
    "luxembourg": "LU",
    "luxemburg": "LU",
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
    return (
        all(_LABEL.match(label) for label in labels)
        and (tld.isalpha() or tld.startswith("xn--"))
        and len(tld) >= 2
    )


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
    if email_length_problem(email):
        return email, None, None
    return email, email_key(email), domain


def email_length_problem(email: str) -> str:
    """Why an address is longer than RFC 5321 lets it be ("" when it is not): no server would deliver it."""
    local = email.rpartition("@")[0]
    if len(email) <= MAX_EMAIL_OCTETS and len(local) <= MAX_LOCAL_PART_OCTETS and email.isascii():
        return ""  # the common case: characters are octets
    local_octets, octets = len(local.encode("utf-8")), len(email.encode("utf-8"))
    if local_octets > MAX_LOCAL_PART_OCTETS:
        return (
            f"{REASON_EMAIL_TOO_LONG}: the part before the @ has {local_octets} octets, "
            f"at most {MAX_LOCAL_PART_OCTETS} (RFC 5321)"
        )
    if octets > MAX_EMAIL_OCTETS:
        return f"{REASON_EMAIL_TOO_LONG}: {octets} octets, at most {MAX_EMAIL_OCTETS} (RFC 5321)"
    return ""


# --- company facts as typed in an export or a form ----------------------------------------------------
# Bands in the vocabulary of the reference data and config/scoring.yaml.
EMPLOYEE_BANDS: tuple[tuple[int, str], ...] = (
    (1, "1-10"),
    (11, "11-50"),
    (51, "51-200"),
    (201, "201-500"),
    (501, "501-1000"),
    (1001, "1001-5000"),
    (5001, "5001+"),
)
REVENUE_BANDS: tuple[tuple[int, str], ...] = (
    (0, "<$1M"),
    (1_000_000, "$1M-$10M"),
    (10_000_000, "$10M-$50M"),
    (50_000_000, "$50M-$100M"),
    (100_000_000, "$100M-$500M"),
    (500_000_000, "$500M-$1B"),
    (1_000_000_000, "$1B+"),
)
# Industry names as the reference data and scoring spell them; common export spellings map onto them
# (HubSpot's "COMPUTER_SOFTWARE", LinkedIn's "Information Technology and Services", German and French).
INDUSTRIES = (
    "Software",
    "IT Services",
    "Manufacturing",
    "Financial Services",
    "Consulting",
    "Healthcare",
    "Retail",
    "Logistics",
    "Marketing & Advertising",
    "E-commerce",
    "Education",
    "Insurance",
    "Media & Publishing",
    "Energy",
    "Construction",
    "Telecommunications",
    "Automotive",
    "Food & Beverage",
    "Real Estate",
    "Pharmaceuticals",
)
_INDUSTRY_SYNONYMS = {
    "computer software": "Software",
    "software development": "Software",
    "saas": "Software",
    "information technology and services": "IT Services",
    "information technology & services": "IT Services",
    "it services and it consulting": "IT Services",
    "information technology": "IT Services",
    "marketing and advertising": "Marketing & Advertising",
    "advertising services": "Marketing & Advertising",
    "ecommerce": "E-commerce",
    "internet retail": "E-commerce",
    "online retail": "E-commerce",
    "financial services": "Financial Services",
    "banking": "Financial Services",
    "finance": "Financial Services",
    "hospital & health care": "Healthcare",
    "hospital and health care": "Healthcare",
    "health care": "Healthcare",
    "management consulting": "Consulting",
    "pharmaceutical": "Pharmaceuticals",
    "telecommunication": "Telecommunications",
    "logistics and supply chain": "Logistics",
    "transportation/trucking/railroad": "Logistics",
    "food and beverages": "Food & Beverage",
    "food & beverages": "Food & Beverage",
    "food production": "Food & Beverage",
    "e-learning": "Education",
    "education management": "Education",
    "higher education": "Education",
    "automotive industry": "Automotive",
    "media": "Media & Publishing",
    "publishing": "Media & Publishing",
    "online media": "Media & Publishing",
    "softwareentwicklung": "Software",
    "it-dienstleistungen": "IT Services",
    "finanzdienstleistungen": "Financial Services",
    "maschinenbau": "Manufacturing",
    "logiciels": "Software",
    "édition de logiciels": "Software",
    "services informatiques": "IT Services",
    "services financiers": "Financial Services",
}
_INDUSTRY_OF = {name.casefold(): name for name in INDUSTRIES} | _INDUSTRY_SYNONYMS
_MULTIPLIERS = {
    "k": 10**3,
    "tsd": 10**3,
    "m": 10**6,
    "mm": 10**6,
    "mn": 10**6,
    "mio": 10**6,
    "million": 10**6,
    "millions": 10**6,
    "b": 10**9,
    "bn": 10**9,
    "mrd": 10**9,
    "md": 10**9,
    "billion": 10**9,
    "billions": 10**9,
}
_AMOUNT = re.compile(r"(\d[\d.,'’ \u00a0\u202f]*)\s*([a-z]*)\.?")
_CURRENCY = re.compile(r"(?i)\b(usd|eur|gbp|chf|us\$)\b|[$€£]")


def industry_of(raw: str) -> str | None:
    """The reference spelling of a typed industry; an unknown one as typed (HubSpot's CAPS_CODES as words)."""
    text = raw.strip()
    if not text:
        return None
    if text.isupper() and "_" in text:  # HubSpot's internal value: COMPUTER_SOFTWARE
        text = text.replace("_", " ").title()
    return _INDUSTRY_OF.get(text.casefold(), text)[:120]


def _number(digits: str, suffix: str) -> int | None:
    """ "5,000" / "5.000" / "5 000" -> 5000; "1,5" with a suffix ("1,5 Mio") -> 1.5 million."""
    digits = re.sub(r"[’' \u00a0\u202f]", "", digits).rstrip(".,")
    multiplier = _MULTIPLIERS.get(suffix, 1) if suffix else 1
    if suffix and suffix not in _MULTIPLIERS:
        return None
    groups = re.split(r"[.,]", digits)
    if len(groups) > 1 and all(len(g) == 3 for g in groups[1:]) and not (multiplier > 1 and len(groups) == 2):
        value = float("".join(groups))  # thousands separators
    elif len(groups) == 2:
        value = float(groups[0] + "." + groups[1])  # one decimal separator
    elif len(groups) == 1:
        value = float(groups[0])
    else:
        return None
    return int(round(value * multiplier))


def _amounts(raw: str) -> tuple[list[int], bool, bool] | None:
    """The numbers in a typed count or amount, whether it is open-ended ("5001+", ">5000"), and "<1M"."""
    text = (
        _CURRENCY.sub("", raw.strip().casefold()).replace("–", "-").replace(" to ", "-").replace(" bis ", "-")
    )
    if not text:
        return None
    open_ended = text.endswith("+") or text.startswith((">", "over ", "more than ", "mehr als ", "plus de "))
    below = text.startswith(("<", "under ", "less than ", "unter ", "moins de "))
    parts = [p for p in re.split(r"\s*-\s*", text.strip("<>+ ")) if p]
    values = []
    for part in parts:
        match = _AMOUNT.fullmatch(part.strip())
        if not match:
            return None
        value = _number(match.group(1), match.group(2))
        if value is None:
            return None
        values.append(value)
    return (values, open_ended, below) if 1 <= len(values) <= 2 else None


def _band(value: int, bands: tuple[tuple[int, str], ...]) -> str | None:
    found = None
    for floor, name in bands:
        if value >= floor:
            found = name
    return found


@lru_cache(maxsize=4096)
def _cached_industry(raw: str) -> str | None:
    return industry_of(raw)


@lru_cache(maxsize=4096)
def employees_of(raw: str) -> tuple[int | None, str | None]:
    """(employee count, band) from what an export says: "5000", "5,000", "1001-5000", "1K-5K", "5001+"."""
    if raw.strip() in {b for _, b in EMPLOYEE_BANDS}:
        return None, raw.strip()
    parsed = _amounts(raw)
    if parsed is None:
        return None, None
    values, open_ended, below = parsed
    if len(values) == 1 and not open_ended and not below:
        count = values[0]
        return (count, _band(count, EMPLOYEE_BANDS)) if 0 < count < 10**8 else (None, None)
    # A range is placed by its lower end (+1 for ranges written "1000-5000", which mean 1001-5000).
    lower = 1 if below else values[0] + (1 if open_ended or len(values) == 2 else 0)
    return None, _band(lower, EMPLOYEE_BANDS)


@lru_cache(maxsize=4096)
def revenue_of(raw: str) -> tuple[int | None, str | None]:
    """(annual revenue, band) from "12500000", "$12.5M", "12,5 Mio. EUR", "$10M-$50M", "$1B+", "<$1M"."""
    if raw.strip() in {b for _, b in REVENUE_BANDS}:
        return None, raw.strip()
    parsed = _amounts(raw)
    if parsed is None:
        return None, None
    values, open_ended, below = parsed
    if below:
        return None, _band(max(values[0] - 1, 0), REVENUE_BANDS)
    if len(values) == 1 and not open_ended:
        amount = values[0]
        return (amount, _band(amount, REVENUE_BANDS)) if amount < 10**15 else (None, None)
    return None, _band(values[0], REVENUE_BANDS)


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


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CANONICAL_SLOT = {name: i for i, name in enumerate(CANONICAL_FIELDS)}
# What ``RecordNormalizer.normalize`` returns per record, in this order.
NORMALIZED_FIELDS: tuple[str, ...] = (
    "match_key",
    "email",
    "email_key",
    "email_domain",
    "first_name",
    "last_name",
    "company",
    "job_title",
    "phone",
    "phone_e164",
    "country",
    "external_id",
    "original_source",
    "campaign",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "page_url",
    "occurred_at",
    "consent_status",
    "legal_basis",
    "do_not_email",
    "industry",
    "employee_count",
    "employee_band",
    "annual_revenue",
    "revenue_band",
)
_LIMITED = tuple((_CANONICAL_SLOT[name], name, limit) for name, limit in FIELD_LIMITS.items())
_SHORTEST_LIMIT = min(FIELD_LIMITS.values())


class RecordNormalizer:
    """Validates and cleans one record at a time; answers that depend on one value only are cached.

    A record is a tuple of strings in ``CANONICAL_FIELDS`` order ("" where the
    source has no such column). Plain Python, no pandas: it runs in the
    ingestion worker process for every row of a file, so it is kept lean.
    """

    def __init__(self, as_of: datetime) -> None:
        self.as_of = as_of.astimezone(UTC)
        self._times: dict[str, datetime] = {}
        self._countries: dict[str, str | None] = {}
        self._consents: dict[str, str | None] = {}
        self._bases: dict[str, str | None] = {}
        self._flags: dict[str, bool] = {}

    def normalize(self, record: tuple[str, ...]) -> tuple[tuple, str]:
        """(values in ``NORMALIZED_FIELDS`` order, reject reason or "")."""
        (
            email_raw,
            first,
            last,
            full,
            company,
            title,
            phone,
            country_raw,
            external_id,
            consent,
            basis,
            dne,
            original_source,
            campaign,
            utm_source,
            utm_medium,
            utm_campaign,
            utm_term,
            utm_content,
            page_url,
            occurred,
            industry_raw,
            employees_raw,
            revenue_raw,
        ) = stripped = tuple(map(str.strip, record))
        # Excel and exports pad names with invisible characters; control characters never belong in a field.
        if not (first + last + company + title).isprintable():
            first, last, company, title = (_CONTROL.sub("", v) for v in (first, last, company, title))
        if not first and not last and full:
            head, _, tail = full.rpartition(" ")
            first, last = head, tail
        email, key, domain = email_facts(email_raw) if email_raw else ("", None, None)
        country = self._countries.get(country_raw, False)
        if country is False:
            country = self._countries[country_raw] = country_code(country_raw)
        e164 = phone_e164(phone, country) if phone else None
        status = self._consents.get(consent, False)
        if status is False:
            status = self._consents[consent] = _consent_status(consent)
        legal = self._bases.get(basis, False)
        if legal is False:
            legal = self._bases[basis] = _LEGAL.get(basis.casefold())
        do_not_email = self._flags.get(dne)
        if do_not_email is None:
            do_not_email = self._flags[dne] = bool(_fold_flag(dne))
        at = self._times.get(occurred)
        if at is None:
            at = self._times[occurred] = self._parse_time(occurred)
        # Company facts: never a reason to reject a row; what cannot be read is left out.
        industry = _cached_industry(industry_raw) if industry_raw else None
        employee_count, employee_band = employees_of(employees_raw) if employees_raw else (None, None)
        annual_revenue, revenue_band = revenue_of(revenue_raw) if revenue_raw else (None, None)

        reason = ""
        if (
            max(map(len, record)) > _SHORTEST_LIMIT
        ):  # most records have no value near any limit: one C-level check
            # The values as stored: the email and the names cleaned, the others as read (stripped).
            cleaned = (email, first, last, full, company, title, *stripped[6:])
            for slot, name, limit in _LIMITED:
                if len(cleaned[slot]) > limit:
                    reason = f"field too long: {name} ({len(cleaned[slot])} characters, at most {limit})"
                    break
        if not reason:
            if email and key is None:
                reason = email_length_problem(email) or REASON_BAD_EMAIL
            elif not email and not phone:
                reason = REASON_NO_CONTACT
            elif not email and e164 is None and not external_id:
                # A typed phone that is no number is usable only with the source's own id for the person.
                reason = REASON_BAD_PHONE
        match_key = (
            ("e:" + key) if key else ("p:" + e164) if e164 else ("x:" + external_id) if external_id else None
        )
        values = (
            match_key,
            email or None,
            key,
            domain,
            first or None,
            last or None,
            company or None,
            title or None,
            phone or None,
            e164,
            country,
            external_id or None,
            original_source or None,
            campaign or None,
            utm_source or None,
            utm_medium or None,
            utm_campaign or None,
            utm_term or None,
            utm_content or None,
            page_url or None,
            at,
            status,
            legal,
            do_not_email,
            industry,
            employee_count,
            employee_band,
            annual_revenue,
            revenue_band,
        )
        return values, reason

    def _parse_time(self, text: str) -> datetime:
        """ISO 8601 as most exports write it; US/European formats through pandas;
        else the run's as-of time."""
        if not text:
            return self.as_of
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError:
            import pandas as pd

            value = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
            return self.as_of if value is pd.NaT else value.to_pydatetime()
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def canonical_records(df: pd.DataFrame) -> list[tuple[str, ...]]:
    """A mapped frame's rows as ``CANONICAL_FIELDS`` tuples of strings ("" for a missing column)."""
    columns = [df[name].astype(str).tolist() if name in df.columns else None for name in CANONICAL_FIELDS]
    blank = [""] * len(df)
    return list(zip(*(col if col is not None else blank for col in columns), strict=True)) if len(df) else []


def normalize_frame(df: pd.DataFrame, as_of: datetime) -> tuple[pd.DataFrame, pd.Series]:
    """Clean a chunk of mapped rows (canonical columns, all strings); returns (frame, reject reason per row).

    The same ``RecordNormalizer`` the file worker uses, for the small batches
    of the web form, ad platforms and replays. The reject Series is empty text
    for rows that pass; the frame has the ``NORMALIZED_FIELDS`` columns.
    """
    import pandas as pd

    normalizer = RecordNormalizer(as_of)
    results = [normalizer.normalize(record) for record in canonical_records(df)]
    out = pd.DataFrame(
        [values for values, _ in results], columns=list(NORMALIZED_FIELDS), index=df.index, dtype=object
    )
    out["occurred_at"] = pd.to_datetime(out["occurred_at"], utc=True)
    out["do_not_email"] = out["do_not_email"].astype(bool)
    reason = pd.Series([r for _, r in results], index=df.index, dtype=object)
    return out, reason
