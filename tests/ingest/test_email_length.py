"""Addresses longer than RFC 5321 allows are rejects with their reason, on every path into the CRM."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from funnelflow.ingest.adplatform import fetch_new_leads
from funnelflow.ingest.config import load_header_mapping, load_sources
from funnelflow.ingest.landing import process_landing
from funnelflow.ingest.normalize import email_facts, email_length_problem
from funnelflow.web.app import create_standalone_app
from tests.factories import AD_SOURCE, ad_endpoint, rows
from tests.fakes.ad_platform import FakeAdPlatform
from tests.ingest.factories import run_inbox

LONG_LOCAL = "a" * 300 + "@example.com"  # the address the issue found stored as a lead
LOCAL_65 = "b" * 65 + "@example.com"
LOCAL_64 = "c" * 64 + "@example.com"
# 64 + 1 + 189 = 254 octets: the longest address; one more label character is too long.
LONGEST = "d" * 64 + "@" + ".".join(["e" * 60, "f" * 60, "g" * 60, "h" * 2]) + ".com"
TOO_LONG = "d" * 64 + "@" + ".".join(["e" * 60, "f" * 60, "g" * 60, "h" * 3]) + ".com"
# Octets, not characters: 33 two-octet letters are 66 octets.
UMLAUTS = "ü" * 33 + "@example.de"


def test_the_rfc_5321_limits_are_octets_of_the_local_part_and_the_whole_address():
    assert len(LONGEST) == 254 and len(TOO_LONG) == 255
    assert email_facts(LOCAL_64)[1] is not None and email_facts(LONGEST)[1] is not None
    for address in (LONG_LOCAL, LOCAL_65, TOO_LONG, UMLAUTS):
        assert email_facts(address)[1] is None, address
    assert "300 octets, at most 64" in email_length_problem(LONG_LOCAL)
    assert "66 octets, at most 64" in email_length_problem(UMLAUTS)
    assert "255 octets, at most 254" in email_length_problem(TOO_LONG)


def test_a_file_row_with_a_too_long_address_is_a_reject_with_its_reason(
    engine, inbox: Path, config_dir: Path
):
    lines = [
        "Email,First Name",
        f"{LONG_LOCAL},Long",
        f"{TOO_LONG},Longer",
        f"{LOCAL_64},Fine",
        f"{LONGEST},Max",
    ]
    (inbox / "list.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    [report] = run_inbox(engine, inbox, config_dir)
    assert (report.counts.inserted, report.counts.rejected) == (2, 2)
    assert {r["email"] for r in rows(engine, "select email from leads")} == {LOCAL_64, LONGEST}
    rejects = rows(engine, "select line_number, reason from ingest_rejects order by line_number")
    assert [r["line_number"] for r in rejects] == [2, 3]
    assert rejects[0]["reason"].startswith("email too long: the part before the @ has 300 octets, at most 64")
    assert rejects[1]["reason"] == "email too long: 255 octets, at most 254 (RFC 5321)"


def test_a_web_form_post_with_a_too_long_address_is_a_reject_with_its_reason(engine):
    client = TestClient(create_standalone_app(engine), client=("203.0.113.9", 50000))
    too_long = client.post("/funnelflow/leads", json={"email": LOCAL_65}).status_code
    assert client.post("/funnelflow/leads", json={"email": LOCAL_64}).status_code == 202
    totals = process_landing(engine, load_sources(), load_header_mapping())
    assert [r["email"] for r in rows(engine, "select email from leads")] == [LOCAL_64]
    # The form lands it (shape checks only) and ingestion sets it aside with the reason; should the form
    # learn to refuse it at once (422), nothing is landed and nothing rejected. Never a lead.
    rejects = rows(engine, "select source_file, reason from ingest_rejects")
    if too_long == 202:
        assert totals["web_form"].rejected == 1
        [reject] = rejects
        assert reject["reason"].startswith("email too long: the part before the @ has 65 octets")
        assert reject["source_file"].startswith("lead_landing:")
    else:
        assert too_long == 422 and rejects == []


@pytest.fixture
def fake():
    with FakeAdPlatform() as server:
        yield server


def test_an_ad_platform_lead_with_a_too_long_address_is_a_reject_with_its_reason(engine, fake):
    fake.add_lead("L1", "2026-11-20T10:00:00+00:00", {"email": LONG_LOCAL, "first_name": "Long"})
    fake.add_lead("L2", "2026-11-20T10:01:00+00:00", {"email": LOCAL_64, "first_name": "Fine"})
    fetch_new_leads(engine, ad_endpoint(fake), AD_SOURCE, sleep=lambda s: None)
    totals = process_landing(engine, load_sources(), load_header_mapping())
    assert (totals[AD_SOURCE].inserted, totals[AD_SOURCE].rejected) == (1, 1)
    assert [r["email"] for r in rows(engine, "select email from leads")] == [LOCAL_64]
    [reject] = rows(engine, "select source, reason from ingest_rejects")
    assert reject["source"] == AD_SOURCE
    assert reject["reason"].startswith("email too long: the part before the @ has 300 octets")
