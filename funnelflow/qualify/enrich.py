"""Enrichment: the company behind a business email domain, and its firmographics, from a provider.

Providers share one interface (``EnrichmentProvider.lookup(domains)``):
``ReferenceProvider`` reads the companies CSV shipped in the repo (the default,
no network); ``HttpProvider`` calls a Clearbit-style company API with a base URL
and an API key (the DAG takes both from an Airflow connection). Answers, found or
not, are cached in ``enrichment_cache`` with ``fetched_at`` and asked again after
the TTL. Firmographics go on the lead's account (one per domain); the lead gets
its ``account_id`` and, where nobody typed one, its company and country.

Precedence: every value on a lead has a source and a confidence in
``leads.field_sources``. A value a person typed has confidence 1.0 and is never
replaced; a provider's value only replaces one of lower or equal confidence.
Company facts typed in an export or a form (``leads.industry``,
``employee_count``/``employee_band``, ``annual_revenue``/``revenue_band``, see
``funnelflow.ingest.company``) are never written here: the provider's answer
goes on the account, and scoring takes the lead's typed value first.
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa

from funnelflow import settings
from funnelflow.db.schema import accounts, enrichment_cache, leads, utcnow
from funnelflow.qualify.state import lead_batches, needs_qualifying
from funnelflow.service_settings import HttpApiSettings

log = logging.getLogger(__name__)
TYPED = {"source": "typed", "confidence": 1.0}
CHUNK = 2000
ACCOUNT_FIELDS = ("name", "industry", "employee_band", "revenue_band", "country", "region", "competitor")


@dataclass(frozen=True)
class Firmographics:
    domain: str
    name: str | None = None
    industry: str | None = None
    employee_band: str | None = None
    revenue_band: str | None = None
    country: str | None = None
    region: str | None = None
    competitor: bool | None = None


class EnrichmentProvider(Protocol):
    name: str
    confidence: float  # 0..1; what a person typed counts 1.0

    def lookup(self, domains: Sequence[str]) -> dict[str, Firmographics | None]:
        """What the provider knows of each domain (None: nothing)."""
        ...


class EnrichmentError(RuntimeError):
    """The provider refused or failed; the message says which and why, never whom."""


# --- providers -----------------------------------------------------------------------------------

_REGIONS = {
    "NA": {"US", "CA"},
    "LATAM": {"MX", "BR", "AR", "CL", "CO", "PE", "UY"},
    "APAC": {"JP", "KR", "CN", "IN", "AU", "NZ", "SG", "HK", "TW", "ID", "MY", "TH", "PH", "VN"},
}


def region_of(country: str | None) -> str | None:
    if not country:
        return None
    for region, countries in _REGIONS.items():
        if country.upper() in countries:
            return region
    return "EMEA"


def _flag(value: str | None) -> bool | None:
    if value is None or value.strip() == "":
        return None
    return value.strip().lower() in {"true", "1", "yes"}


class ReferenceProvider:
    """Companies from a CSV.

    Columns: domain,name,industry,employee_band,revenue_band,country,region,competitor.
    """

    name = "reference"
    confidence = 0.9

    def __init__(self, path: Path | None = None) -> None:
        raw = settings.env("FUNNELFLOW_REFERENCE_COMPANIES")
        self.path = path or (
            Path(raw) if raw else settings.REPO_ROOT / "funnelflow" / "data" / "companies.csv"
        )
        if not self.path.is_absolute():
            self.path = settings.REPO_ROOT / self.path
        self._by_domain: dict[str, Firmographics] | None = None

    def _load(self) -> dict[str, Firmographics]:
        if self._by_domain is None:
            with self.path.open(encoding="utf-8", newline="") as fh:
                self._by_domain = {
                    row["domain"].strip().lower(): Firmographics(
                        domain=row["domain"].strip().lower(),
                        name=row.get("name") or None,
                        industry=row.get("industry") or None,
                        employee_band=row.get("employee_band") or None,
                        revenue_band=row.get("revenue_band") or None,
                        country=(row.get("country") or None),
                        region=row.get("region") or region_of(row.get("country")),
                        competitor=_flag(row.get("competitor")),
                    )
                    for row in csv.DictReader(fh)
                    if row.get("domain")
                }
        return self._by_domain

    def lookup(self, domains: Sequence[str]) -> dict[str, Firmographics | None]:
        table = self._load()
        return {d: table.get(d) for d in domains}


# Clearbit's employee ranges onto ours.
_EMPLOYEE_BANDS = {
    "1-10": "1-10",
    "11-50": "11-50",
    "51-250": "51-200",
    "251-1K": "201-500",
    "1K-5K": "1001-5000",
    "5K-10K": "5001+",
    "10K-50K": "5001+",
    "50K-100K": "5001+",
    "100K+": "5001+",
}


class HttpProvider:
    """A Clearbit-style company API: ``GET {base}/v2/companies/find?domain=...`` with a bearer key."""

    name = "http"
    confidence = 0.8

    def __init__(
        self, base_url: str, api_key: str, *, timeout: float = 10.0, retries: int = 2, transport=None
    ) -> None:
        import httpx

        if not api_key:
            raise EnrichmentError(
                "the enrichment API key is empty: set the password of the enrichment connection"
            )
        self.retries = retries
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    def _find(self, domain: str) -> Firmographics | None:
        for attempt in range(self.retries + 1):
            resp = self.client.get("/v2/companies/find", params={"domain": domain})
            if resp.status_code == 404:
                return None
            if resp.status_code in (401, 403):
                raise EnrichmentError(
                    f"enrichment API refused the key (HTTP {resp.status_code}); "
                    "check the connection's password"
                )
            if resp.status_code == 422:
                return None  # the API judged the domain invalid: nothing to know
            if resp.status_code in (429, 500, 502, 503, 504) and attempt < self.retries:
                time.sleep(min(float(resp.headers.get("Retry-After", "1") or 1), 5.0))
                continue
            if resp.status_code != 200:
                raise EnrichmentError(f"enrichment API answered HTTP {resp.status_code} for a lookup")
            body = resp.json()
            country = (body.get("geo") or {}).get("countryCode")
            metrics = body.get("metrics") or {}
            return Firmographics(
                domain=domain,
                name=body.get("name"),
                industry=(body.get("category") or {}).get("industry"),
                employee_band=_EMPLOYEE_BANDS.get(
                    metrics.get("employeesRange") or "", metrics.get("employeesRange")
                ),
                revenue_band=metrics.get("estimatedAnnualRevenue"),
                country=country,
                region=region_of(country),
            )
        raise EnrichmentError("enrichment API kept failing after retries")

    def lookup(self, domains: Sequence[str]) -> dict[str, Firmographics | None]:
        return {d: self._find(d) for d in domains}


def provider_from_settings(http_api: HttpApiSettings | None = None) -> EnrichmentProvider:
    """The provider FUNNELFLOW_ENRICHMENT_PROVIDER names; ``http`` needs the API's settings."""
    kind = settings.env("FUNNELFLOW_ENRICHMENT_PROVIDER", "reference")
    if kind == "reference":
        return ReferenceProvider()
    if kind == "http":
        if http_api is None:
            raise EnrichmentError(
                "FUNNELFLOW_ENRICHMENT_PROVIDER=http needs the enrichment connection (base URL and key)"
            )
        return HttpProvider(http_api.base_url, http_api.token)
    raise EnrichmentError(f"FUNNELFLOW_ENRICHMENT_PROVIDER must be reference or http, got {kind!r}")


# --- cache -------------------------------------------------------------------------------------------


def cached_lookup(
    conn: sa.Connection,
    provider: EnrichmentProvider,
    domains: Iterable[str],
    *,
    as_of: datetime,
    ttl_days: int,
) -> tuple[dict[str, Firmographics | None], int]:
    """Answers for the domains, from the cache when younger than the TTL.

    Returns (answers, provider calls).
    """
    wanted = sorted(set(domains))
    fresh_after = as_of - timedelta(days=ttl_days)
    answers: dict[str, Firmographics | None] = {}
    cached = {}
    for i in range(0, len(wanted), 1000):
        rows = conn.execute(
            sa.select(enrichment_cache).where(
                enrichment_cache.c.provider == provider.name,
                enrichment_cache.c.domain.in_(wanted[i : i + 1000]),
            )
        ).all()
        cached.update({r.domain: r for r in rows})
    stale = []
    for domain in wanted:
        row = cached.get(domain)
        if row is not None and row.fetched_at >= fresh_after:
            answers[domain] = Firmographics(**row.payload) if row.found else None
        else:
            stale.append(domain)
    if stale:
        fetched = provider.lookup(stale)
        now = utcnow()
        for domain in stale:
            found = fetched.get(domain)
            values = {
                "found": found is not None,
                "payload": asdict(found) if found else None,
                "fetched_at": now,
            }
            if domain in cached:
                conn.execute(
                    enrichment_cache.update()
                    .where(enrichment_cache.c.provider == provider.name, enrichment_cache.c.domain == domain)
                    .values(**values)
                )
            else:
                conn.execute(
                    enrichment_cache.insert().values(provider=provider.name, domain=domain, **values)
                )
            answers[domain] = found
    return answers, len(stale)


# --- applying answers -----------------------------------------------------------------------------------


def choose(
    current, current_source: dict | None, new, provider: EnrichmentProvider
) -> tuple[object, dict | None]:
    """The value to keep and its provenance: a typed value (or a more confident one) is never overwritten."""
    if new is None:
        return current, current_source
    if current is not None and current_source is None:
        current_source = TYPED  # present and never enriched: a person typed it
    if current is None or current_source is None:
        return new, {"source": provider.name, "confidence": provider.confidence}
    if (
        current_source.get("confidence", 1.0) <= provider.confidence
        and current_source.get("source") != "typed"
    ):
        return new, {"source": provider.name, "confidence": provider.confidence}
    return current, current_source


def _account_id(conn: sa.Connection, firm: Firmographics, provider: EnrichmentProvider) -> int:
    row = conn.execute(sa.select(accounts).where(accounts.c.domain == firm.domain)).first()
    values = {k: getattr(firm, k) for k in ACCOUNT_FIELDS}
    if row is None:
        return conn.execute(
            accounts.insert()
            .values(
                domain=firm.domain,
                enrichment_source=provider.name,
                enriched_at=utcnow(),
                **values,
            )
            .returning(accounts.c.id)
        ).scalar_one()
    if row.enrichment_source in (None, provider.name):
        # The same provider refreshes its own answer; blanks are filled; another provider's values stay.
        updates = {k: v for k, v in values.items() if v is not None and v != getattr(row, k)}
        if updates:
            conn.execute(
                accounts.update()
                .where(accounts.c.id == row.id)
                .values(enrichment_source=provider.name, enriched_at=utcnow(), **updates)
            )
    else:
        blanks = {k: v for k, v in values.items() if v is not None and getattr(row, k) is None}
        if blanks:
            conn.execute(accounts.update().where(accounts.c.id == row.id).values(**blanks))
    return row.id


@dataclass
class EnrichResult:
    leads: int = 0
    domains: int = 0
    provider_calls: int = 0
    enriched: int = 0


def enrich_leads(
    engine: sa.Engine,
    provider: EnrichmentProvider,
    *,
    as_of: datetime,
    ttl_days: int | None = None,
    lead_ids: list[int] | None = None,
) -> EnrichResult:
    """Attach accounts and fill company/country for the leads that need qualifying (or the given ones)."""
    ttl = ttl_days if ttl_days is not None else settings.env_int("FUNNELFLOW_ENRICHMENT_TTL_DAYS", 30)
    result = EnrichResult()
    business = sa.and_(
        leads.c.email.is_not(None),
        sa.func.coalesce(leads.c.email_free, sa.false()).is_(sa.false()),
        sa.func.coalesce(leads.c.email_disposable, sa.false()).is_(sa.false()),
    )
    where = sa.and_(needs_qualifying() if lead_ids is None else leads.c.id.in_(lead_ids), business)
    cols = [
        leads.c.id,
        leads.c.email,
        leads.c.email_domain,
        leads.c.company,
        leads.c.country,
        leads.c.account_id,
        leads.c.field_sources,
    ]
    for conn, rows in lead_batches(engine, cols, where, CHUNK):
        domain_of = {r.id: (r.email_domain or r.email.rpartition("@")[2]).strip().lower() for r in rows}
        answers, calls = cached_lookup(conn, provider, domain_of.values(), as_of=as_of, ttl_days=ttl)
        result.leads += len(rows)
        result.domains += len(answers)
        result.provider_calls += calls
        account_ids: dict[str, int] = {}
        for r in rows:
            firm = answers.get(domain_of[r.id])
            if firm is None:
                continue
            if firm.domain not in account_ids:
                account_ids[firm.domain] = _account_id(conn, firm, provider)
            sources = dict(r.field_sources or {})
            company, sources["company"] = choose(r.company, sources.get("company"), firm.name, provider)
            country, sources["country"] = choose(r.country, sources.get("country"), firm.country, provider)
            sources = {k: v for k, v in sources.items() if v is not None}
            sources["account"] = {"source": provider.name, "confidence": provider.confidence}
            new = {
                "account_id": account_ids[firm.domain],
                "company": company,
                "country": country,
                "field_sources": sources,
            }
            if any(new[k] != getattr(r, k) for k in new):
                conn.execute(
                    leads.update().where(leads.c.id == r.id).values(**new, updated_at=leads.c.updated_at)
                )
                result.enriched += 1
    log.info(
        "enrichment (%s): %d lead(s), %d domain(s), %d provider call(s), %d lead(s) changed",
        provider.name,
        result.leads,
        result.domains,
        result.provider_calls,
        result.enriched,
    )
    return result
