"""Every setting funnelflow reads from the environment, in one place.

Each setting is declared once in ``SETTINGS`` with its default and meaning; the
README's configuration table is checked against this list by a test, so the two
cannot drift. Secrets (API keys, the signing key) come from the environment or
from Airflow connections, never from files in the repository.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    help: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    # --- foundation ---
    Setting(
        "FUNNELFLOW_HOME",
        ".funnelflow/ in the repo",
        "Local state folder: SQLite database, inbox, outbox, Airflow home.",
    ),
    Setting(
        "AIRFLOW_CONN_MARKETING_DB",
        "sqlite:///$FUNNELFLOW_HOME/marketing.db",
        "The marketing database (connection `marketing_db`): a SQLAlchemy URL or Airflow's JSON form.",
    ),
    Setting(
        "FUNNELFLOW_CONFIG_DIR",
        "config/ in the repo",
        "Folder of the marketing-ops YAML files (scoring, routing, sources, campaigns).",
    ),
    Setting(
        "FUNNELFLOW_OPS_EMAIL",
        "ops@example.com",
        "Operations address that receives DAG failure and circuit-breaker alerts.",
    ),
    Setting(
        "FUNNELFLOW_TASK_RETRY_DELAY_S",
        "60",
        "Seconds before a failed DAG task's retry (every funnelflow DAG; read when DAG files are parsed).",
    ),
    Setting(
        "FUNNELFLOW_TEST_PG",
        "postgresql://postgres@127.0.0.1:5432/test",
        "PostgreSQL server the test suite and benchmarks create their scratch databases on.",
    ),
    Setting(
        "FUNNELFLOW_CLOCK_OFFSET",
        "0",
        "Demo and tests only, never in production: seconds added to the wall clock for every time "
        "funnelflow stamps on what happened (sent_at, received_at, created_at; funnelflow/clock.py). "
        "`make demo` sets it per step so its sends and events fall in the demo's weeks.",
    ),
    Setting(
        "FUNNELFLOW_SECRET_KEY",
        None,
        "Key that signs unsubscribe and confirmation tokens (HMAC). Required in production.",
        secret=True,
    ),
    Setting(
        "FUNNELFLOW_PUBLIC_URL",
        "http://localhost:8080/funnelflow",
        "Where people reach the public app; links in emails start here.",
    ),
    # --- ingestion (issue 3) ---
    Setting(
        "FUNNELFLOW_INBOX_URL",
        "file://$FUNNELFLOW_HOME/inbox/leads",
        (
            "Where lead files are dropped (an Airflow ObjectStoragePath URL: file://, s3://, sftp://); "
            "archive/ and failed/ are made inside it."
        ),
    ),
    Setting(
        "FUNNELFLOW_INBOX_CONN_ID",
        None,
        "Airflow connection that grants access to FUNNELFLOW_INBOX_URL (S3, SFTP); none for a local folder.",
    ),
    Setting(
        "FUNNELFLOW_INGEST_CHUNK_ROWS",
        "20000",
        "Rows read, validated and written per chunk when ingesting a file (bounds memory).",
    ),
    Setting(
        "FUNNELFLOW_INGEST_MAX_INFLATED_MB",
        "1024",
        "Most an XLSX may inflate to, all its parts together (declared sizes checked first, bytes "
        "counted while reading; the shared strings at most a quarter of it); a larger one goes to "
        "failed/ as a zip bomb.",
    ),
    Setting(
        "FUNNELFLOW_INGEST_WORKER_MEMORY_MB",
        "2048",
        "Address space the file worker process may use (0: no limit); a file that needs more goes to "
        "failed/.",
    ),
    Setting(
        "FUNNELFLOW_INGEST_MAX_ATTEMPTS",
        "3",
        "Tries per file (counted per content hash); a file whose tries all stopped (worker killed, "
        "crash) goes to failed/ with the last reason.",
    ),
    Setting(
        "FUNNELFLOW_FORM_ORIGINS",
        "",
        (
            "Comma-separated marketing-site origins allowed to post the lead form from a browser (CORS), "
            "e.g. https://www.example.com."
        ),
    ),
    Setting(
        "FUNNELFLOW_TRUSTED_PROXIES",
        "",
        (
            "Comma-separated addresses/networks of reverse proxies whose X-Forwarded-For is believed (e.g. "
            "10.0.0.0/8)."
        ),
    ),
    Setting(
        "FUNNELFLOW_FORM_RATE_LIMIT",
        "20",
        "Lead-form posts allowed per client address per minute (per app process).",
    ),
    Setting(
        "FUNNELFLOW_FORM_MAX_BYTES",
        "16384",
        "Largest lead-form request body accepted, in bytes; larger posts get 413.",
    ),
    # --- qualification (issue 4) ---
    Setting(
        "FUNNELFLOW_EMAIL_MX_CHECK",
        "false",
        "Qualification also checks that an email's domain accepts mail (DNS MX lookup; needs network).",
    ),
    Setting(
        "FUNNELFLOW_ENRICHMENT_PROVIDER",
        "reference",
        (
            "Where firmographics come from: `reference` (the companies shipped in funnelflow/data) or `http` "
            "(a Clearbit-style API, connection FUNNELFLOW_ENRICHMENT_CONN_ID)."
        ),
    ),
    Setting(
        "FUNNELFLOW_ENRICHMENT_CONN_ID",
        "enrichment_api",
        "Airflow connection of the `http` enrichment provider: host = base URL, password = API key.",
    ),
    Setting(
        "FUNNELFLOW_ENRICHMENT_TTL_DAYS",
        "30",
        "Days a cached enrichment answer (found or not) is trusted before the provider is asked again.",
    ),
    Setting(
        "FUNNELFLOW_REFERENCE_COMPANIES",
        "funnelflow/data/companies.csv",
        (
            "CSV of the `reference` enrichment provider "
            "(domain,name,industry,employee_band,revenue_band,country,region,competitor)."
        ),
    ),
    Setting(
        "FUNNELFLOW_MERGE_AUTO_SIMILARITY",
        "95",
        (
            "Likely duplicates at or above this similarity (0-100) are merged automatically (never two "
            "distinct business emails)."
        ),
    ),
    Setting(
        "FUNNELFLOW_MERGE_REVIEW_SIMILARITY",
        "85",
        (
            "Likely duplicates from this similarity up to the automatic bar go on the review list (`merges "
            "list`)."
        ),
    ),
    # --- email sending (issue 5) ---
    Setting(
        "FUNNELFLOW_EMAIL_TRANSPORT",
        "outbox",
        (
            "How email leaves: `sendgrid` (production, connection `sendgrid_default`), `smtp` (Mailpit) or "
            "`outbox` (.eml files in FUNNELFLOW_HOME/outbox)."
        ),
    ),
    Setting(
        "FUNNELFLOW_SMTP_HOST",
        "localhost",
        "SMTP server for the `smtp` transport (Mailpit in docker-compose).",
    ),
    Setting("FUNNELFLOW_SMTP_PORT", "1025", "Port of the SMTP server for the `smtp` transport."),
    Setting("FUNNELFLOW_FROM_EMAIL", "hello@example.com", "Sender address of every email."),
    Setting(
        "FUNNELFLOW_FROM_NAME",
        "funnelflow",
        "Sender name shown in inboxes, and the company name in the footer.",
    ),
    Setting(
        "FUNNELFLOW_POSTAL_ADDRESS",
        "funnelflow demo, 1 Example Street, Springfield, USA",
        "The sender's postal address printed in every email footer (CAN-SPAM requires a real one).",
    ),
    Setting(
        "FUNNELFLOW_DOUBLE_OPT_IN",
        "true",
        "Web-form sign-ups must confirm by email before marketing email (double opt-in).",
    ),
    Setting(
        "FUNNELFLOW_EMAIL_RATE_PER_S", "2000", "Most messages handed to the transport per second (throttle)."
    ),
    Setting("FUNNELFLOW_EMAIL_CONCURRENCY", "4", "Requests in flight at once when sending."),
    Setting(
        "FUNNELFLOW_EMAIL_CAP",
        "3",
        "Frequency cap: most marketing emails one person gets in FUNNELFLOW_EMAIL_CAP_DAYS.",
    ),
    Setting("FUNNELFLOW_EMAIL_CAP_DAYS", "7", "Window of the frequency cap, in days."),
    Setting(
        "FUNNELFLOW_BREAKER_BOUNCE_RATE",
        "0.05",
        "Circuit breaker: pause marketing sends when bounces / sends of the last 7 days pass this share.",
    ),
    Setting(
        "FUNNELFLOW_BREAKER_SPAM_RATE",
        "0.003",
        (
            "Circuit breaker: pause marketing sends when spam reports / sends of the last 7 days pass this "
            "share."
        ),
    ),
    Setting(
        "FUNNELFLOW_BREAKER_MIN_SENDS",
        "200",
        "Circuit breaker: fewest recent sends before the rates are judged.",
    ),
    Setting(
        "FUNNELFLOW_WELCOME_GUIDE_URL",
        "https://example.com/getting-started",
        "The link the welcome email points new subscribers to.",
    ),
    Setting(
        "FUNNELFLOW_WELCOME_WINDOW_HOURS",
        "72",
        (
            "welcome_emails considers consents recorded this many hours before the run (older ones are not "
            '"just granted").'
        ),
    ),
    # --- email engagement, suppression sync and privacy (issue 5) ---
    Setting(
        "FUNNELFLOW_SENDGRID_WEBHOOK_PUBLIC_KEY",
        None,
        (
            "SendGrid Event Webhook verification key (base64 of the P-256 public key, from SendGrid's mail "
            "settings). Without it the webhook refuses every post."
        ),
    ),
    Setting(
        "FUNNELFLOW_SENDGRID_WEBHOOK_MAX_AGE_S",
        "86400",
        (
            "Oldest signed webhook timestamp accepted, in seconds (replay protection; 24 h covers SendGrid's "
            "retries); 0 turns the check off."
        ),
    ),
    Setting(
        "FUNNELFLOW_EMAIL_UNSETTLED_AFTER_H",
        "48",
        (
            "Hours after which a send still `claimed` with no SendGrid event is marked `unsettled` by "
            "email_engagement."
        ),
    ),
    Setting(
        "FUNNELFLOW_EMAIL_HUMAN_CLICK_DELAY_S",
        "10",
        "Clicks sooner than this many seconds after delivery (link scanners) are recorded but not scored.",
    ),
    # --- weekly funnel metrics (issue 14) ---
    Setting(
        "FUNNELFLOW_REPORT_TZ",
        "UTC",
        "Time zone (IANA name, e.g. Europe/Berlin) whose Monday 00:00 starts a report week; the weekly "
        "report DAG runs Mondays 06:00 there.",
    ),
    # --- sales handoff (issue 13) ---
    Setting(
        "FUNNELFLOW_CTI_API_KEY",
        None,
        "Bearer key the telephony system sends to /funnelflow/cti/*. Without it every CTI call is refused.",
        secret=True,
    ),
    # --- webinars (issue 12) ---
    Setting(
        "FUNNELFLOW_WEBINAR_NEXT_STEP_URL",
        "https://example.com/book-a-call",
        "The next step a webinar's follow-up offers people who attended (a booking page, say).",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def env(name: str, default: str | None = None) -> str | None:
    """Read a declared setting; reading an undeclared one is a programming error."""
    if name not in _BY_NAME:
        raise KeyError(f"{name} is not declared in funnelflow.settings.SETTINGS")
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_int(name: str, default: int) -> int:
    raw = env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    raw = env(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def env_bool(name: str, default: bool) -> bool:
    raw = env(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


class HomeNotWritable(RuntimeError):
    pass


def funnelflow_home() -> Path:
    """The local state folder, created if missing; an unwritable one is an error that says so."""
    raw = env("FUNNELFLOW_HOME")
    home = Path(raw).expanduser() if raw else REPO_ROOT / ".funnelflow"
    home = home.resolve()
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HomeNotWritable(f"FUNNELFLOW_HOME {home} cannot be created: {exc.strerror}") from None
    if not os.access(home, os.W_OK | os.X_OK):
        raise HomeNotWritable(
            f"FUNNELFLOW_HOME {home} is not writable by this user; set FUNNELFLOW_HOME to a writable folder"
        )
    return home


def config_dir() -> Path:
    raw = env("FUNNELFLOW_CONFIG_DIR")
    return Path(raw).expanduser().resolve() if raw else REPO_ROOT / "config"
