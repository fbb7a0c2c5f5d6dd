"""Lead ingestion: every source in (file drops, the web form, ad-platform lead forms),
every row accounted for.

The flow is the same for every source: raw arrival (landing table or archived
file) -> header mapping (``mapping``) -> validation (``normalize``; for files in
the ``worker`` process) -> stage rows (``rows``) -> set-based SQL into leads,
touchpoints, consents, suppressions (``stage``; ``store`` for small batches),
with row-level problems set aside in ``ingest_rejects``.
Nothing here imports Airflow: the DAG hands in an fsspec filesystem, an engine
and the run's as-of time.
"""
