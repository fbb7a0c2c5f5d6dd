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
    Setting("FUNNELFLOW_HOME", ".funnelflow/ in the repo", "Local state folder: SQLite database, inbox, outbox, Airflow home."),
    Setting("AIRFLOW_CONN_MARKETING_DB", "sqlite:///$FUNNELFLOW_HOME/marketing.db",
            "The marketing database (connection `marketing_db`): a SQLAlchemy URL or Airflow's JSON form."),
    Setting("FUNNELFLOW_CONFIG_DIR", "config/ in the repo", "Folder of the marketing-ops YAML files (scoring, routing, sources, campaigns)."),
    Setting("FUNNELFLOW_OPS_EMAIL", "ops@example.com", "Operations address that receives DAG failure and circuit-breaker alerts."),
    Setting("FUNNELFLOW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test",
            "PostgreSQL server the test suite and benchmarks create their scratch databases on."),
    Setting("FUNNELFLOW_SECRET_KEY", None, "Key that signs unsubscribe and confirmation tokens (HMAC). Required in production.", secret=True),
    Setting("FUNNELFLOW_PUBLIC_URL", "http://localhost:8080/funnelflow", "Where people reach the public app; links in emails start here."),
    # --- ingestion (issue 3) ---
    # --- qualification (issue 4) ---
    # --- email sending (issue 5) ---
    # --- email engagement, suppression sync and privacy (issue 5) ---
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
        raise HomeNotWritable(f"FUNNELFLOW_HOME {home} is not writable by this user; set FUNNELFLOW_HOME to a writable folder")
    return home


def config_dir() -> Path:
    raw = env("FUNNELFLOW_CONFIG_DIR")
    return Path(raw).expanduser().resolve() if raw else REPO_ROOT / "config"
