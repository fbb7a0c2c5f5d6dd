"""Company facts typed in an export or a form: mapped, kept with their source, scored, never overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import fsspec
import pytest
import sqlalchemy as sa

from funnelflow.db.schema import accounts
from funnelflow.ingest.config import load_header_mapping, load_sources
from funnelflow.ingest.files import ingest_inbox
from funnelflow.ingest.normalize import employees_of, industry_of, revenue_of
from funnelflow.qualify.enrich import ReferenceProvider, enrich_leads
from funnelflow.qualify.normalize import department_of, normalize_leads, seniority_of
from funnelflow.qualify.score import score_and_stage
from tests.factories import AS_OF, REPO
from tests.qualify.factories import lead_row

# A HubSpot export: "Number of Employees" and "Industry" as HubSpot names them (its internal industry code).
HUBSPOT = (
    "Record ID,First Name,Last Name,Email,Company Name,Job Title,Number of Employees,Industry,"
    "Annual Revenue\n"
    '201,Vera,Vogel,vera@unknown-software.example,Unknown Software,VP Marketing,"5,000",COMPUTER_SOFTWARE,'
    '"$750,000,000"\n'
    "202,Kai,Known,kai@acme.example,Acme,VP Marketing,5000,Manufacturing,\n"
)
# Salesforce's API names, and a trade-show list with a band.
SALESFORCE = (
    "Id,FirstName,LastName,Email,Title,NumberOfEmployees,AnnualRevenue,Industry\n"
    "00Q1,Sam,Sales,sam@other.example,Director Sales,120,12500000,Information Technology and Services\n"
)
REFERENCE = """domain,name,industry,employee_band,revenue_band,country,region,competitor
acme.example,"Acme, Inc.",Software,51-200,$10M-$50M,DE,EMEA,false
"""


def _ingest(engine, tmp_path: Path, name: str, text: str) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    (inbox / name).write_text(text, encoding="utf-8")
    ingest_inbox(
        engine,
        fsspec.filesystem("file"),
        str(inbox),
        load_sources(),
        load_header_mapping(),
        AS_OF,
        chunk_rows=100,
    )


def _lead_id(engine, email: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("select id from leads where email = :e"), {"e": email}).scalar_one()


def _expected_fit(rules, facts: dict) -> tuple[int, str]:
    """What config/scoring.yaml gives a lead with these facts (the rules read here, not written down)."""
    total = 0
    for rule in rules.scoring.fit.rules:
        value = facts.get(rule.field)
        hit = (
            value in rule.in_ if rule.in_ is not None else (value is not None and bool(value) == rule.equals)
        )
        total += rule.points if hit else 0
    grades = rules.scoring.fit.grades
    grade = "A" if total >= grades.A else "B" if total >= grades.B else "C" if total >= grades.C else "D"
    return total, grade


def test_typed_facts_are_read_in_the_spellings_exports_use():
    assert employees_of("5,000") == (5000, "1001-5000") and employees_of("5.000") == (5000, "1001-5000")
    assert employees_of("1,001-5,000") == (None, "1001-5000") and employees_of("5001+") == (None, "5001+")
    assert employees_of("251-1K") == (None, "201-500") and employees_of("lots") == (None, None)
    assert revenue_of("$12.5M") == (12_500_000, "$10M-$50M") and revenue_of("12,5 Mio. EUR")[1] == "$10M-$50M"
    assert revenue_of("$1B+") == (None, "$1B+") and revenue_of("<$1M") == (None, "<$1M")
    assert industry_of("COMPUTER_SOFTWARE") == "Software" and industry_of("Biotech") == "Biotech"
    assert industry_of("Information Technology and Services") == "IT Services"


def test_a_vp_at_a_5000_person_software_company_grades_as_the_config_says(engine, rules, tmp_path):
    _ingest(engine, tmp_path, "hubspot-export.csv", HUBSPOT)
    vera = _lead_id(engine, "vera@unknown-software.example")
    row = lead_row(engine, vera)
    assert (row.industry, row.employee_count, row.employee_band) == ("Software", 5000, "1001-5000")
    assert (row.annual_revenue, row.revenue_band) == (750_000_000, "$500M-$1B")
    typed = {"source": "typed", "confidence": 1.0, "origin": "crm-export"}
    assert {k: row.field_sources[k] for k in ("industry", "employee_band", "revenue_band")} == {
        "industry": typed,
        "employee_band": typed,
        "revenue_band": typed,
    }

    normalize_leads(engine)
    enrich_leads(
        engine, ReferenceProvider(), as_of=AS_OF
    )  # the shipped reference data: her domain is not in it
    score_and_stage(engine, rules, as_of=AS_OF, scope="all")

    row = lead_row(engine, vera)
    assert row.account_id is None and row.seniority == "vp"
    facts = {
        "seniority": seniority_of("VP Marketing"),
        "department": department_of("VP Marketing"),
        "industry": "Software",
        "employee_band": "1001-5000",
        "revenue_band": "$500M-$1B",
        "email_free": False,
        "email_disposable": False,
        "email_role": False,
    }
    fit, grade = _expected_fit(rules, facts)
    without_facts, grade_before = _expected_fit(
        rules, {k: v for k, v in facts.items() if k not in ("industry", "employee_band", "revenue_band")}
    )
    assert (row.fit_score, row.fit_grade) == (fit, grade)
    assert fit > without_facts and grade < grade_before  # the typed facts count ("A" sorts before "C")
    breakdown = (
        row.score_breakdown if isinstance(row.score_breakdown, dict) else json.loads(row.score_breakdown)
    )
    assert {"target_industry", "enterprise"} <= set(breakdown["fit"])


def test_enrichment_does_not_overwrite_a_typed_value(engine, rules, tmp_path):
    _ingest(engine, tmp_path, "hubspot-export.csv", HUBSPOT)
    kai = _lead_id(engine, "kai@acme.example")
    reference = tmp_path / "companies.csv"
    reference.write_text(REFERENCE, encoding="utf-8")

    normalize_leads(engine)
    enrich_leads(engine, ReferenceProvider(reference), as_of=AS_OF)
    score_and_stage(engine, rules, as_of=AS_OF, scope="all")

    row = lead_row(engine, kai)
    # The account says 51-200 and Software; Kai's export said 5,000 people in manufacturing.
    with engine.connect() as conn:
        account = conn.execute(sa.select(accounts).where(accounts.c.id == row.account_id)).one()
    assert (account.employee_band, account.industry) == ("51-200", "Software")
    assert (row.employee_band, row.employee_count, row.industry) == ("1001-5000", 5000, "Manufacturing")
    assert row.field_sources["employee_band"]["source"] == "typed"
    assert row.field_sources["account"]["source"] == "reference"
    breakdown = (
        row.score_breakdown if isinstance(row.score_breakdown, dict) else json.loads(row.score_breakdown)
    )
    assert "enterprise" in breakdown["fit"] and "mid_market" not in breakdown["fit"]
    assert "target_industry" not in breakdown["fit"]
    # The account's enriched value still counts where nothing was typed: its revenue band.
    assert row.revenue_band is None


def test_a_later_list_fills_blanks_but_never_replaces_a_typed_fact(engine, tmp_path):
    _ingest(engine, tmp_path, "salesforce-export.csv", SALESFORCE)
    sam = _lead_id(engine, "sam@other.example")
    row = lead_row(engine, sam)
    assert (row.industry, row.employee_count, row.employee_band) == ("IT Services", 120, "51-200")
    assert (row.annual_revenue, row.revenue_band) == (12_500_000, "$10M-$50M")
    later = "Email,Company size,Industry,Revenue\nsam@other.example,5001+,Retail,$1B+\n"
    _ingest(engine, tmp_path, "tradeshow-scan.csv", later)
    row = lead_row(engine, sam)
    assert (row.industry, row.employee_band, row.revenue_band) == ("IT Services", "51-200", "$10M-$50M")
    assert row.field_sources["industry"]["origin"] == "crm-export"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_rows_without_company_columns_stage_no_facts(engine, tmp_path):
    _ingest(engine, tmp_path, "plain.csv", "Email\nplain@example.com\n")
    row = lead_row(engine, _lead_id(engine, "plain@example.com"))
    assert (row.industry, row.employee_band, row.field_sources) == (None, None, None)


def test_the_shipped_reference_data_does_not_know_the_unknown_company():
    assert "unknown-software.example" not in (REPO / "funnelflow" / "data" / "companies.csv").read_text()


def test_an_ad_platform_lead_form_carries_company_facts(engine):
    from funnelflow.ingest.adplatform import fetch_new_leads
    from funnelflow.ingest.landing import process_landing
    from tests.factories import AD_SOURCE, ad_endpoint
    from tests.fakes.ad_platform import FakeAdPlatform

    with FakeAdPlatform() as fake:
        fake.add_lead(
            "L1",
            "2026-11-20T10:00:00+00:00",
            {"email": "ada@ads.example", "company_size": "1001-5000", "industry": "Computer Software"},
        )
        fetch_new_leads(engine, ad_endpoint(fake), AD_SOURCE, sleep=lambda s: None)
    process_landing(engine, load_sources(), load_header_mapping())
    row = lead_row(engine, _lead_id(engine, "ada@ads.example"))
    assert (row.industry, row.employee_band, row.employee_count) == ("Software", "1001-5000", None)
    assert row.field_sources["employee_band"] == {"source": "typed", "confidence": 1.0, "origin": AD_SOURCE}
