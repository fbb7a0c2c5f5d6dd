"""The Airflow side of funnelflow: what every DAG shares (assets, defaults, alerts, connections, database).

Kept apart from the domain package so that ``funnelflow`` never imports Airflow,
and apart from ``dags/`` so that no DAG file imports another. Modules here stay
light at import time: the DAG processor imports them with every DAG file.
"""
