"""Header mapping: which column of an export is which lead field.

Headers are compared after folding (accents removed, case-folded, everything
but letters and digits dropped), so "E-Mail", "e_mail" and "EMAIL " are one
header. Built-in aliases cover the common exports (HubSpot, Salesforce,
webinar platforms, German and French headers); ``config/header_mapping.yaml``
adds more. Unknown columns never reject a row: they are named once in the
file's receipt.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

# The lead fields a source can fill, in the order receipts list them.
CANONICAL_FIELDS: tuple[str, ...] = (
    "email",
    "first_name",
    "last_name",
    "full_name",
    "company",
    "job_title",
    "phone",
    "country",
    "external_id",
    "consent",
    "legal_basis",
    "do_not_email",
    "original_source",
    "campaign",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "page_url",
    "occurred_at",
    # company facts as typed (kept on the lead, preferred by scoring to enriched values)
    "industry",
    "employees",
    "annual_revenue",
)

BUILTIN_ALIASES: dict[str, tuple[str, ...]] = {
    "email": (
        "email",
        "e-mail",
        "email address",
        "e-mail address",
        "work email",
        "business email",
        "mail",
        "email adresse",
        "e-mail-adresse",
        "emailadresse",
        "courriel",
        "adresse e-mail",
        "adresse email",
        "adresse électronique",
        "attendee email",
        "registrant email",
        "contact email",
        "primary email",
    ),
    "first_name": ("first name", "firstname", "first", "given name", "vorname", "prénom", "prenom"),
    "last_name": (
        "last name",
        "lastname",
        "last",
        "surname",
        "family name",
        "nachname",
        "familienname",
        "nom",
        "nom de famille",
    ),
    "full_name": (
        "full name",
        "name",
        "contact name",
        "attendee name",
        "registrant name",
        "vollständiger name",
        "nom complet",
    ),
    "company": (
        "company",
        "company name",
        "account name",
        "account",
        "organization",
        "organisation",
        "employer",
        "firma",
        "unternehmen",
        "firmenname",
        "société",
        "entreprise",
        "organisation name",
    ),
    "job_title": (
        "job title",
        "title",
        "jobtitle",
        "position",
        "role",
        "job role",
        "berufsbezeichnung",
        "titel",
        "funktion",
        "poste",
        "fonction",
        "titre",
    ),
    "phone": (
        "phone",
        "phone number",
        "telephone",
        "telephone number",
        "mobile",
        "mobile phone",
        "mobile number",
        "business phone",
        "work phone",
        "tel",
        "telefon",
        "telefonnummer",
        "handy",
        "mobil",
        "téléphone",
        "numéro de téléphone",
        "portable",
    ),
    "country": (
        "country",
        "country/region",
        "country region",
        "country code",
        "mailing country",
        "land",
        "pays",
        "pays/région",
        "pays région",
    ),
    "external_id": (
        "id",
        "record id",
        "lead id",
        "contact id",
        "external id",
        "registrant id",
        "attendee id",
        "badge id",
        "crm id",
        "datensatz-id",
        "identifiant",
    ),
    "consent": (
        "consent",
        "marketing consent",
        "email consent",
        "opt in",
        "opt-in",
        "email opt in",
        "marketing opt in",
        "einwilligung",
        "marketing-einwilligung",
        "consentement",
        "gdpr consent",
    ),
    "legal_basis": (
        "legal basis",
        "legal basis for processing contact's data",
        "legal basis for processing",
        "rechtsgrundlage",
        "base légale",
        "base juridique",
    ),
    "do_not_email": (
        "do not email",
        "donotemail",
        "email opt out",
        "email opt-out",
        "opted out of email",
        "unsubscribed from all email",
        "unsubscribed",
        "keine e-mails",
        "nicht per e-mail kontaktieren",
        "ne pas envoyer d'e-mail",
        "ne pas contacter par e-mail",
        "has opted out of email",
    ),
    "original_source": (
        "original source",
        "lead source",
        "source",
        "leadquelle",
        "quelle",
        "origine",
        "source d'origine",
        "original source type",
    ),
    "campaign": (
        "campaign",
        "campaign name",
        "event",
        "event name",
        "webinar",
        "webinar name",
        "kampagne",
        "veranstaltung",
        "campagne",
        "événement",
    ),
    "utm_source": ("utm source", "utm_source"),
    "utm_medium": ("utm medium", "utm_medium"),
    "utm_campaign": ("utm campaign", "utm_campaign"),
    "utm_term": ("utm term", "utm_term"),
    "utm_content": ("utm content", "utm_content"),
    "page_url": ("page url", "landing page", "conversion page", "form url", "seite"),
    "occurred_at": (
        "created date",
        "create date",
        "created at",
        "created",
        "date created",
        "registration date",
        "registration time",
        "registered at",
        "scan time",
        "scanned at",
        "join time",
        "submitted at",
        "erstellt am",
        "erstellungsdatum",
        "anmeldedatum",
        "date de création",
        "date d'inscription",
        "date",
    ),
    "industry": (
        "industry",  # HubSpot, Salesforce
        "company industry",
        "industry sector",
        "sector",
        "branche",
        "industrie",
        "secteur",
        "secteur d'activité",
        "secteur d'activite",
    ),
    "employees": (
        "number of employees",  # HubSpot
        "numberofemployees",  # Salesforce's API name
        "employees",  # Salesforce's label
        "employee count",
        "no. of employees",
        "company size",  # LinkedIn lead forms, trade-show scanners
        "company_size",
        "headcount",
        "employee range",
        "mitarbeiter",
        "anzahl mitarbeiter",
        "mitarbeiterzahl",
        "unternehmensgröße",
        "effectif",
        "effectifs",
        "nombre d'employés",
        "nombre de salariés",
        "taille de l'entreprise",
    ),
    "annual_revenue": (
        "annual revenue",  # HubSpot, Salesforce's label
        "annualrevenue",  # Salesforce's API name
        "revenue",
        "company revenue",
        "jahresumsatz",
        "umsatz",
        "chiffre d'affaires",
        "chiffre d'affaires annuel",
    ),
}


@lru_cache(maxsize=4096)
def fold_header(header: str) -> str:
    """ "E-Mail Adresse " -> "emailadresse": accents off, case-folded, letters and digits only."""
    text = unicodedata.normalize("NFKD", str(header))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return re.sub(r"[^0-9a-z]+", "", text.replace("ß", "ss"))


def _alias_table(extra: dict[str, str]) -> dict[str, str]:
    table = {fold_header(f): f for f in CANONICAL_FIELDS}
    for name, aliases in BUILTIN_ALIASES.items():
        for alias in aliases:
            table.setdefault(fold_header(alias), name)
    for alias, name in extra.items():  # marketing ops' config wins over the built-ins
        table[fold_header(alias)] = name
    return table


@dataclass(frozen=True)
class HeaderMap:
    """The result of matching one file's header row."""

    columns: dict[str, str]  # original header -> canonical field (first column wins per field)
    unknown: tuple[str, ...]  # headers that matched nothing (named once in the receipt)
    ignored: tuple[str, ...] = field(default=())

    @property
    def has_identity(self) -> bool:
        return bool({"email", "phone", "external_id"} & set(self.columns.values()))


def map_headers(
    headers: list[str], extra_aliases: dict[str, str] | None = None, ignore: list[str] | None = None
) -> HeaderMap:
    table = _alias_table(extra_aliases or {})
    ignored_folded = {fold_header(h) for h in ignore or ()}
    columns: dict[str, str] = {}
    taken: set[str] = set()
    unknown: list[str] = []
    ignored: list[str] = []
    for header in headers:
        folded = fold_header(header)
        target = table.get(folded)
        if target and target not in taken:
            columns[header] = target
            taken.add(target)
        elif folded in ignored_folded:
            ignored.append(header)
        elif not target:
            unknown.append(header)
        # a second column for an already-mapped field (e.g. "Mobile" after "Phone")
        # is kept in the raw row only
    return HeaderMap(columns=columns, unknown=tuple(unknown), ignored=tuple(ignored))
