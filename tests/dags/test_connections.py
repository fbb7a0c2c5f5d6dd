"""Airflow connections become the plain settings the domain code takes (set as AIRFLOW_CONN_* variables)."""

from __future__ import annotations

import json

import pytest

from funnelflow.ingest.config import AdPlatformSource
from funnelflow.service_settings import HttpApiSettings, SendGridSettings
from funnelflow_airflow import connections


def _conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


def test_sendgrid_connection_gives_key_and_sandbox_base_url(monkeypatch):
    _conn(monkeypatch, "sendgrid_default", conn_type="email", host="http://127.0.0.1:8099/", password="SG.k")
    assert connections.sendgrid_settings() == SendGridSettings(
        api_key="SG.k", base_url="http://127.0.0.1:8099"
    )
    # The email connection's usual bare SMTP host keeps SendGrid's own API.
    _conn(monkeypatch, "sendgrid_default", conn_type="email", host="smtp.sendgrid.net", password="SG.k")
    assert connections.sendgrid_settings() == SendGridSettings(api_key="SG.k", base_url=None)
    assert "SG.k" not in repr(connections.sendgrid_settings())


def test_sendgrid_missing_or_keyless_is_none(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_SENDGRID_DEFAULT", raising=False)
    assert connections.sendgrid_settings() is None
    _conn(monkeypatch, "sendgrid_default", conn_type="email", host="smtp.sendgrid.net")
    assert connections.sendgrid_settings() is None


def test_email_transport_for_sendgrid_without_connection_names_it(monkeypatch):
    from funnelflow_airflow.sending import email_transport

    monkeypatch.setenv("FUNNELFLOW_EMAIL_TRANSPORT", "sendgrid")
    monkeypatch.delenv("AIRFLOW_CONN_SENDGRID_DEFAULT", raising=False)
    with pytest.raises(connections.ConnectionProblem, match="sendgrid_default"):
        email_transport()


def test_enrichment_connection_host_schema_port_and_extra(monkeypatch):
    monkeypatch.setenv("FUNNELFLOW_ENRICHMENT_CONN_ID", "clearbit")
    _conn(
        monkeypatch,
        "clearbit",
        conn_type="http",
        host="company.example.com",
        schema="http",
        port=8443,
        password="k-1",
        extra={"timeout": "5", "attempts": 2},
    )
    assert connections.enrichment_api() == HttpApiSettings(
        base_url="http://company.example.com:8443", token="k-1", timeout=5.0, attempts=2
    )
    # A host that is already a URL is used as it is; the scheme defaults to https.
    _conn(monkeypatch, "clearbit", conn_type="http", host="https://api.example.com/v1/", password="k")
    assert connections.enrichment_api().base_url == "https://api.example.com/v1"
    _conn(monkeypatch, "clearbit", conn_type="http", host="api.example.com", password="k")
    assert connections.enrichment_api().base_url == "https://api.example.com"


def test_enrichment_without_connection_or_host_says_what_to_set(monkeypatch):
    monkeypatch.setenv("FUNNELFLOW_ENRICHMENT_CONN_ID", "nowhere_defined")
    with pytest.raises(connections.ConnectionProblem, match="'nowhere_defined'"):
        connections.enrichment_api()
    _conn(monkeypatch, "nowhere_defined", conn_type="http", password="k")
    with pytest.raises(connections.ConnectionProblem, match="no host"):
        connections.enrichment_api()
    _conn(monkeypatch, "nowhere_defined", conn_type="http", host="h", extra={"timeout": "soon"})
    with pytest.raises(connections.ConnectionProblem, match="timeout and attempts must be numbers"):
        connections.enrichment_api()


def test_enrichment_provider_takes_the_settings(monkeypatch):
    from funnelflow.qualify.enrich import EnrichmentError, HttpProvider, provider_from_settings

    monkeypatch.setenv("FUNNELFLOW_ENRICHMENT_PROVIDER", "http")
    provider = provider_from_settings(HttpApiSettings(base_url="https://api.example.com", token="k"))
    assert isinstance(provider, HttpProvider) and str(provider.client.base_url) == "https://api.example.com"
    provider.close()
    with pytest.raises(EnrichmentError, match="enrichment connection"):
        provider_from_settings(None)


def test_ad_platform_source_becomes_its_endpoint(monkeypatch):
    source = AdPlatformSource(name="linkedin", conn_id="ad_platform_test", form_id="f-9", page_size=50)
    monkeypatch.delenv("AIRFLOW_CONN_AD_PLATFORM_TEST", raising=False)
    assert connections.ad_platform_endpoint(source) is None
    _conn(monkeypatch, "ad_platform_test", conn_type="http", host="ads.example.com", password="tok")
    endpoint = connections.ad_platform_endpoint(source)
    assert (endpoint.base_url, endpoint.token, endpoint.form_id, endpoint.page_size) == (
        "https://ads.example.com",
        "tok",
        "f-9",
        50,
    )
    assert (endpoint.timeout, endpoint.attempts) == (30.0, 4)


def test_uri_form_connection_is_read_too(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_AD_PLATFORM_TEST", "http://:tok%2F1@ads.example.com:9000/http")
    source = AdPlatformSource(name="x", conn_id="ad_platform_test", form_id="f")
    endpoint = connections.ad_platform_endpoint(source)
    assert (endpoint.base_url, endpoint.token) == ("http://ads.example.com:9000", "tok/1")


def test_lead_inbox_defaults_to_the_home_folder(monkeypatch, funnelflow_home):
    monkeypatch.delenv("FUNNELFLOW_INBOX_URL", raising=False)
    monkeypatch.delenv("FUNNELFLOW_INBOX_CONN_ID", raising=False)
    inbox = connections.lead_inbox()
    assert inbox.path.rstrip("/").endswith(str(funnelflow_home / "inbox" / "leads"))


def test_no_dag_file_reads_connection_fields_or_builds_urls():
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parents[2] / "dags").glob("*.py")):
        text = path.read_text()
        for needle in ("get_connection", "conn.host", "conn.password", "://{", "BaseHook"):
            assert needle not in text, (
                f"{path.name} uses {needle!r}: go through funnelflow_airflow.connections"
            )
