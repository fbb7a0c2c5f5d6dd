"""Enrichment: precedence of typed values, provenance, the TTL cache,
and the HTTP provider against a strict fake."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from funnelflow.db.schema import accounts
from funnelflow.qualify.enrich import (
    EnrichmentError,
    Firmographics,
    HttpProvider,
    ReferenceProvider,
    enrich_leads,
)
from tests.factories import AS_OF
from tests.fakes.enrichment_api import FakeEnrichmentApi
from tests.qualify.factories import add_lead, lead_row

CSV = """domain,name,industry,employee_band,revenue_band,country,region,competitor
acme.example,"Acme, Inc.",Software,51-200,$10M-$50M,DE,EMEA,false
rival.example,Rival GmbH,Software,201-500,$50M-$100M,DE,EMEA,true
"""


class Counting:
    """A provider wrapper that counts lookups, to see the cache at work."""

    def __init__(self, inner):
        self.inner, self.name, self.confidence, self.asked = inner, inner.name, inner.confidence, []

    def lookup(self, domains):
        self.asked.extend(domains)
        return self.inner.lookup(domains)


@pytest.fixture
def reference(tmp_path):
    path = tmp_path / "companies.csv"
    path.write_text(CSV, encoding="utf-8")
    return ReferenceProvider(path)


def test_blank_values_are_filled_with_provenance_and_typed_values_are_kept(engine, reference):
    blank = add_lead(engine, "jo@acme.example")
    typed = add_lead(engine, "al@acme.example", company="ACME Deutschland", country="AT")
    free = add_lead(engine, "x@gmail.com", email_free=True)
    enrich_leads(engine, reference, as_of=AS_OF)
    b, t = lead_row(engine, blank), lead_row(engine, typed)
    assert (b.company, b.country) == ("Acme, Inc.", "DE")
    assert b.field_sources["company"] == {"source": "reference", "confidence": 0.9}
    assert (t.company, t.country) == ("ACME Deutschland", "AT")
    assert t.field_sources["company"] == {"source": "typed", "confidence": 1.0}
    assert b.account_id == t.account_id is not None
    assert lead_row(engine, free).account_id is None  # a free-mail domain says nothing about a company
    with engine.connect() as conn:
        acct = conn.execute(sa.select(accounts).where(accounts.c.id == b.account_id)).one()
    assert (acct.industry, acct.employee_band, acct.region, acct.competitor, acct.enrichment_source) == (
        "Software",
        "51-200",
        "EMEA",
        False,
        "reference",
    )


def test_a_lower_confidence_provider_never_overwrites_a_more_confident_value(engine, reference):
    lead_id = add_lead(engine, "jo@acme.example")
    enrich_leads(engine, reference, as_of=AS_OF)

    class Worse:
        name, confidence = "http", 0.5

        def lookup(self, domains):
            return {d: Firmographics(domain=d, name="Wrong Name", country="US") for d in domains}

    enrich_leads(engine, Worse(), as_of=AS_OF, lead_ids=[lead_id])
    row = lead_row(engine, lead_id)
    assert (row.company, row.country) == ("Acme, Inc.", "DE")
    assert row.field_sources["company"]["source"] == "reference"


def test_answers_are_cached_until_the_ttl_passes(engine, reference):
    provider = Counting(reference)
    first = add_lead(engine, "a@acme.example")
    enrich_leads(engine, provider, as_of=AS_OF, ttl_days=30)
    second = add_lead(engine, "b@acme.example")
    unknown = add_lead(engine, "c@unknown.example")
    enrich_leads(engine, provider, as_of=AS_OF + timedelta(days=1), ttl_days=30, lead_ids=[second, unknown])
    enrich_leads(engine, provider, as_of=AS_OF + timedelta(days=1), ttl_days=30, lead_ids=[unknown])
    assert provider.asked == ["acme.example", "unknown.example"]  # the miss is cached too
    enrich_leads(engine, provider, as_of=AS_OF + timedelta(days=400), ttl_days=30, lead_ids=[first])
    assert provider.asked[-1] == "acme.example"  # refreshed after the TTL
    assert lead_row(engine, unknown).account_id is None


def test_http_provider_speaks_the_api_and_is_refused_without_the_key():
    with FakeEnrichmentApi(api_key="k-123") as api:
        api.add_company("globex.example", "Globex", "Manufacturing", "251-1K", "$50M-$100M", "US")
        provider = HttpProvider(api.base_url, "k-123", retries=0)
        found = provider.lookup(["globex.example", "nothing.example"])
        assert found["globex.example"] == Firmographics(
            domain="globex.example",
            name="Globex",
            industry="Manufacturing",
            employee_band="201-500",
            revenue_band="$50M-$100M",
            country="US",
            region="NA",
        )
        assert found["nothing.example"] is None
        assert api.lookups() == ["globex.example", "nothing.example"]
        assert {r["auth"] for r in api.requests} == {"Bearer k-123"}
        with pytest.raises(EnrichmentError, match="refused the key"):
            HttpProvider(api.base_url, "wrong", retries=0).lookup(["globex.example"])
