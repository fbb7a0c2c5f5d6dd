"""
# lead_ingestion

Every 10 minutes: new leads in from every source, every row accounted for.

1. `fetch_ad_platform_leads`: each ad-platform lead form in `config/sources.yaml`
   whose Airflow HTTP connection exists is read page by page since its stored
   cursor; each page lands in `lead_landing` with the cursor in one transaction.
2. `ingest_inbox_files`: files dropped in the inbox (`FUNNELFLOW_INBOX_URL`, an
   ObjectStoragePath; default `FUNNELFLOW_HOME/inbox/leads`) are claimed by
   content hash, read (CSV/TSV/XLSX, any common encoding), mapped, validated and
   upserted; then moved to `archive/` with a receipt, or to `failed/` with a reason.
3. `process_landed_rows`: web-form posts and ad-platform leads become leads,
   touchpoints and consents.
4. `replay_rejects` (only when the run's param `replay_rejects` is true): rejects
   are run again through today's header mapping.
5. `announce_new_leads` updates `funnelflow://leads/ingested`; skipped (no asset
   event) when nothing arrived.

Each step checks rows in = inserted + updated + rejected + duplicates and fails
loudly if not. Logs carry counts per source and file names, never addresses or
names. Sources not configured (no connection, no inbox folder) are skipped with
one log line.

## If it fails
- **Look at:** the failed task's log: counts per source and the file names, never addresses.
  A file that cannot be read is in the inbox's `failed/` folder with a receipt that says why;
  rows set aside are in `ingest_rejects` with their reason (`python -m funnelflow status`
  counts them). An ad-platform source that fails names its connection and the API's HTTP
  status: check the connection's host and token.
- **Safe to rerun:** yes, clear the failed task or the run. Files are claimed by content hash
  (an archived file is never ingested twice), ad-platform pages land with their cursor in one
  transaction, and landed rows are keyed by content hash. After fixing
  `config/header_mapping.yaml`, trigger a run with `replay_rejects` on to take the rejects
  again.
- **Tell:** marketing-ops (ingest) on call; the owner of a source whose files keep failing
  (the receipt says which source); sales ops when new leads are more than an hour late.

## Owner
marketing-ops (ingest). Failures alert FUNNELFLOW_OPS_EMAIL. See docs/ingestion.md.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from funnelflow_airflow.assets import LEADS_INGESTED
from funnelflow_airflow.common import START_DATE, Tag, default_args, run_as_of


@dag(
    dag_id="lead_ingestion",
    schedule="*/10 * * * *",
    start_date=START_DATE,
    catchup=False,
    default_args=default_args(),
    tags=[Tag.INGEST],
    doc_md=__doc__,
    max_active_runs=1,
    params={
        "replay_rejects": Param(
            False,
            type="boolean",
            description="Also replay unreplayed rejects through today's header mapping.",
        ),
        "replay_source": Param(
            None, type=["null", "string"], description="Replay only this source's rejects."
        ),
    },
)
def lead_ingestion():
    @task
    def fetch_ad_platform_leads() -> dict:
        """Land new ad-platform leads page by page; a missing connection skips that source."""
        import logging

        from funnelflow.ingest.adplatform import fetch_new_leads
        from funnelflow.ingest.config import load_sources
        from funnelflow_airflow.connections import ad_platform_endpoint
        from funnelflow_airflow.db import marketing_engine

        log = logging.getLogger(__name__)
        sources = load_sources()
        landed: dict[str, int] = {}
        engine = None
        for ad in sources.ad_platforms:
            endpoint = ad_platform_endpoint(ad)
            if endpoint is None:
                log.info("ad source %r skipped: no Airflow connection %r", ad.name, ad.conn_id)
                continue
            engine = engine or marketing_engine()
            report = fetch_new_leads(engine, endpoint, ad.name)
            log.info(report.log_line())
            landed[ad.name] = report.landed
        return landed

    @task
    def ingest_inbox_files(data_interval_end=None) -> dict:
        """Claim, read, write and archive each dropped file; unreadable ones go to failed/."""
        import logging

        from funnelflow.ingest.config import load_header_mapping, load_sources
        from funnelflow.ingest.files import ingest_inbox
        from funnelflow.ingest.store import Counts
        from funnelflow_airflow.connections import lead_inbox
        from funnelflow_airflow.db import marketing_engine

        log = logging.getLogger(__name__)
        inbox = lead_inbox()
        if not inbox.exists():
            log.info("inbox %s does not exist yet: no files to ingest", inbox)
            return {}
        reports = ingest_inbox(
            marketing_engine(),
            inbox.fs,
            inbox.path,
            load_sources(),
            load_header_mapping(),
            run_as_of(data_interval_end),
        )
        per_source: dict[str, Counts] = {}
        for report in reports:
            if report.source:
                per_source.setdefault(report.source, Counts()).add(report.counts)
        for source, counts in per_source.items():
            log.info("files of source %r: %s", source, counts.as_dict())
        return {source: counts.as_dict() for source, counts in per_source.items()}

    @task
    def process_landed_rows() -> dict:
        """Web-form posts and ad-platform leads in lead_landing -> leads, touchpoints, consents."""
        import logging

        from funnelflow.ingest.config import load_header_mapping, load_sources
        from funnelflow.ingest.landing import process_landing
        from funnelflow_airflow.db import marketing_engine

        totals = process_landing(marketing_engine(), load_sources(), load_header_mapping())
        for source, counts in totals.items():
            logging.getLogger(__name__).info("landed rows of source %r: %s", source, counts.as_dict())
        return {source: counts.as_dict() for source, counts in totals.items()}

    @task
    def replay_rejects(data_interval_end=None) -> dict:
        """When asked by the run's params, replay rejects through today's mapping (after a mapping fix)."""
        import logging

        from airflow.sdk import get_current_context

        params = get_current_context()["params"]
        if not params.get("replay_rejects"):
            return {}
        from funnelflow.ingest.config import load_header_mapping, load_sources
        from funnelflow.ingest.replay import replay_rejects as replay
        from funnelflow_airflow.db import marketing_engine

        counts = replay(
            marketing_engine(),
            load_sources(),
            load_header_mapping(),
            run_as_of(data_interval_end),
            source=params.get("replay_source") or None,
        )
        logging.getLogger(__name__).info("replayed rejects: %s", counts.as_dict())
        return {"replay": counts.as_dict()}

    @task(outlets=[LEADS_INGESTED])
    def announce_new_leads(files: dict, landed: dict, replayed: dict) -> int:
        """Tell qualification that leads arrived; skipped (no asset event) when none did."""
        from airflow.sdk.exceptions import AirflowSkipException

        arrived = sum(
            c.get("inserted", 0) + c.get("updated", 0)
            for part in (files, landed, replayed)
            for c in part.values()
        )
        if not arrived:
            raise AirflowSkipException("no leads arrived")
        return arrived

    ad = fetch_ad_platform_leads()
    files = ingest_inbox_files()
    landed = process_landed_rows()
    ad >> files >> landed
    replayed = replay_rejects()
    landed >> replayed
    announce_new_leads(files, landed, replayed)


dag_obj = lead_ingestion()

if __name__ == "__main__":
    dag_obj.test()
