"""The Airflow Assets that chain the pipelines, named once."""

from airflow.sdk import Asset

LEADS_INGESTED = Asset("funnelflow://leads/ingested")
LEADS_ENGAGED = Asset("funnelflow://leads/engaged")
LEADS_SALES_QUALIFIED = Asset("funnelflow://leads/sales-qualified")
