"""Qualification: validate, enrich, dedupe, score and stage every lead by rules marketing and sales own.

One path from config to table: ``config/scoring.yaml`` and ``config/sales_rules.yaml``
are loaded and validated by ``rules``; ``normalize`` and ``enrich`` fill the lead's
derived columns; ``dedupe`` merges likely duplicates (or lists them for review);
``score`` computes fit, engagement with decay, the breakdown and the stage in
set-based SQL and writes ``leads`` and ``lifecycle_history`` in one transaction.
Nothing here imports Airflow: the DAG hands in an engine and the run's as-of time.
"""
