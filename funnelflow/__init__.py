"""funnelflow: open-source marketing automation on Apache Airflow 3.

This package holds the domain logic (ingest, enrich, score, route, send,
metrics) and imports nothing from Airflow, so it is tested without a scheduler.
The Airflow side lives in ``funnelflow_airflow`` and ``dags/``.
"""

__version__ = "0.1.0"
