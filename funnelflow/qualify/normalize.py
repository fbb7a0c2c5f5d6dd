"""Validate and normalize: email checks and flags, E.164 phones, clean names, seniority and department.

Pure functions over one value each (tested directly), and ``normalize_leads``,
which applies them to the leads that changed, in chunks, writing only the
derived columns. Email checks use ``email-validator`` without network unless
FUNNELFLOW_EMAIL_MX_CHECK is on.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from funnelflow import settings
from funnelflow.db.schema import leads
from funnelflow.identity import phone_e164
from funnelflow.qualify.state import lead_batches, needs_qualifying

log = logging.getLogger(__name__)
DATA = Path(__file__).resolve().parent.parent / "data"
CHUNK = 5000

SENIORITIES = ("c_level", "vp", "director", "manager", "individual_contributor", "student")
DEPARTMENTS = (
    "executive",
    "marketing",
    "sales",
    "customer_success",
    "engineering",
    "it",
    "data",
    "product",
    "finance",
    "operations",
    "hr",
    "other",
)

# First match wins, so the order matters: "Vice President" before "President", "Intern" before all.
_SENIORITY_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        "student",
        r"\b(student|intern|internship|werkstudent\w*|stagiaire|trainee|apprentice|mba candidate"
        r"|phd|graduate)\b",
    ),
    ("vp", r"\b(vp|svp|evp|avp|vice[- ]president|vizepräsident)\b"),
    (
        "c_level",
        r"\b(chief|ceo|cto|cmo|cfo|coo|cio|cro|cso|founder|co-?founder|owner|president|managing director|"
        r"geschäftsführer\w*|directeur général|partner)\b",
    ),
    ("director", r"\b(director|head|leiter|leiterin|\w+leiter(in)?|responsable|directeur|directrice)\b"),
    ("manager", r"\b(manager|lead|supervisor|chef de projet|teamleiter\w*)\b"),
)
_DEPARTMENT_PATTERNS: tuple[tuple[str, str], ...] = (
    ("marketing", r"(marketing|growth|demand gen|content|seo|brand|campaign|cmo\b|communications)"),
    (
        "sales",
        r"(sales|account exec|account manager|business development|revenue|\bsdr\b|\bbdr\b|\bcro\b"
        r"|commercial|vertrieb)",
    ),
    ("customer_success", r"(customer success|customer support|support specialist)"),
    (
        "executive",
        r"(\bceo\b|chief executive|founder|owner|managing director|president|geschäftsführer"
        r"|directeur général|\bcoo\b)",
    ),
    ("engineering", r"(engineer|developer|devops|software|architect|\bcto\b|chief technology|ingénieur)"),
    ("it", r"(\bit\b|information|systems admin|\bcio\b)"),
    ("data", r"(data|analyst|scientist|analytics)"),
    ("product", r"(product)"),
    ("finance", r"(financ|\bcfo\b|accountant|controller)"),
    ("operations", r"(operations|project|office manager|executive assistant)"),
    ("hr", r"(\bhr\b|recruit|people|talent|human resources)"),
)


@cache
def _word_list(name: str) -> frozenset[str]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def free_mail_domains() -> frozenset[str]:
    return _word_list("free_mail_domains.txt")


def disposable_domains() -> frozenset[str]:
    return _word_list("disposable_domains.txt")


def role_local_parts() -> frozenset[str]:
    return _word_list("role_local_parts.txt")


@dataclass(frozen=True)
class EmailCheck:
    status: str | None  # valid, invalid, or None without an address
    free: bool | None
    disposable: bool | None
    role: bool | None
    reason: str | None = None


def check_email(email: str | None, *, check_mx: bool = False) -> EmailCheck:
    """Syntax and domain checks plus the free/disposable/role flags of one address."""
    if not email:
        return EmailCheck(None, None, None, None)
    value = email.strip().lower()
    local, _, domain = value.rpartition("@")
    flags = dict(
        free=domain in free_mail_domains(),
        disposable=domain in disposable_domains(),
        role=local.split("+", 1)[0] in role_local_parts(),
    )
    try:
        validate_email(value, check_deliverability=check_mx)
    except EmailNotValidError as exc:
        return EmailCheck("invalid", reason=type(exc).__name__, **flags)
    return EmailCheck("valid", **flags)


def clean_name(raw: str | None) -> str | None:
    """Whitespace collapsed; SHOUTED or all-lower names title-cased ("jane o'neil" -> "Jane O'Neil")."""
    if raw is None:
        return None
    value = " ".join(str(raw).split()).strip(" .,;")
    if not value:
        return None
    if value.isupper() or value.islower():
        value = re.sub(r"[^\s\-']+", lambda m: m.group(0)[:1].upper() + m.group(0)[1:].lower(), value)
    return value


def clean_title(raw: str | None) -> str | None:
    if raw is None:
        return None
    value = " ".join(str(raw).split()).strip(" .,;")
    return value or None


def seniority_of(title: str | None) -> str | None:
    if not title:
        return None
    lowered = title.lower()
    for seniority, pattern in _SENIORITY_PATTERNS:
        if re.search(pattern, lowered):
            return seniority
    return "individual_contributor"


def department_of(title: str | None) -> str | None:
    if not title:
        return None
    lowered = title.lower()
    for department, pattern in _DEPARTMENT_PATTERNS:
        if re.search(pattern, lowered):
            return department
    return "other"


def normalized_fields(row: sa.Row | dict, *, check_mx: bool = False) -> dict[str, object]:
    """The derived columns of one lead row."""
    r = row._mapping if isinstance(row, sa.Row) else row
    mail = check_email(r["email"], check_mx=check_mx)
    title = clean_title(r["job_title"])
    return {
        "email_status": mail.status,
        "email_free": mail.free,
        "email_disposable": mail.disposable,
        "email_role": mail.role,
        "phone_e164": phone_e164(r["phone"], r["country"]) or r.get("phone_e164"),
        "first_name": clean_name(r["first_name"]),
        "last_name": clean_name(r["last_name"]),
        "job_title": title,
        "seniority": seniority_of(title),
        "department": department_of(title),
    }


def normalize_leads(engine: sa.Engine, *, lead_ids: list[int] | None = None) -> int:
    """Normalize the leads that need qualifying (or the given ones); returns how many rows changed.

    Idempotent: the derived values are recomputed from the typed ones, and a row
    is only written when a value differs. ``updated_at`` is kept as it was (see
    ``funnelflow.qualify.state``).
    """
    check_mx = settings.env_bool("FUNNELFLOW_EMAIL_MX_CHECK", False)
    cols = [
        leads.c.id,
        leads.c.email,
        leads.c.phone,
        leads.c.phone_e164,
        leads.c.country,
        leads.c.first_name,
        leads.c.last_name,
        leads.c.job_title,
        leads.c.email_status,
        leads.c.email_free,
        leads.c.email_disposable,
        leads.c.email_role,
        leads.c.seniority,
        leads.c.department,
    ]
    where = needs_qualifying() if lead_ids is None else leads.c.id.in_(lead_ids)
    changed = 0
    stmt = (
        leads.update()
        .where(leads.c.id == sa.bindparam("b_id"))
        .values({**{k: sa.bindparam(f"b_{k}") for k in _DERIVED}, "updated_at": leads.c.updated_at})
    )
    for conn, rows in lead_batches(engine, cols, where, CHUNK):
        updates = []
        for row in rows:
            new = normalized_fields(row, check_mx=check_mx)
            if any(new[k] != getattr(row, k) for k in _DERIVED):
                updates.append({"b_id": row.id, **{f"b_{k}": new[k] for k in _DERIVED}})
        if updates:
            conn.execute(stmt, updates)
            changed += len(updates)
    log.info("normalized %d lead(s)", changed)
    return changed


_DERIVED = (
    "email_status",
    "email_free",
    "email_disposable",
    "email_role",
    "phone_e164",
    "first_name",
    "last_name",
    "job_title",
    "seniority",
    "department",
)
