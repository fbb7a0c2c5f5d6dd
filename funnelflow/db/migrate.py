"""Apply and check the Alembic migrations of the marketing database.

Only ``python -m funnelflow db upgrade`` (and the make targets that call it)
migrates. A DAG task calls ``require_current_schema`` and fails at once when the
schema is behind, so parallel tasks never race to migrate.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
UPGRADE_COMMAND = "python -m funnelflow db upgrade"


class SchemaBehind(RuntimeError):
    """The marketing database is not at the code's migration head."""


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    heads = script.get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations have {len(heads)} heads ({heads}); merge them")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


def require_current_schema(engine: Engine) -> None:
    """Raise ``SchemaBehind`` with the one command to run when the database is not at head."""
    current = current_revision(engine)
    head = head_revision()
    if current != head:
        raise SchemaBehind(
            f"marketing database schema is at {current or 'nothing'}, the code needs {head}: "
            f"run `{UPGRADE_COMMAND}`"
        )
