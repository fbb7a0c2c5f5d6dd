"""Migrations create exactly the schema the code declares, on both backends."""

from datetime import UTC

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from funnelflow.db import migrate
from funnelflow.db.engine import make_engine
from funnelflow.db.schema import metadata

ANALYST_TABLES = {
    "leads",
    "accounts",
    "touchpoints",
    "lifecycle_history",
    "ingest_rejects",
    "consents",
    "suppressions",
    "email_sends",
    "email_events",
}


def test_upgrade_from_empty_matches_the_declared_schema(empty_db_url):
    engine = make_engine(empty_db_url)
    with pytest.raises(migrate.SchemaBehind, match=r"run `python -m funnelflow db upgrade`"):
        migrate.require_current_schema(engine)
    migrate.upgrade(engine)
    migrate.require_current_schema(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        tables = set(sa.inspect(conn).get_table_names())
    assert diff == []
    assert ANALYST_TABLES <= tables
    engine.dispose()


def test_downgrade_to_base_and_up_again(empty_db_url):
    engine = make_engine(empty_db_url)
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    with engine.connect() as conn:
        assert set(sa.inspect(conn).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()


def test_one_email_key_per_lead_and_stage_is_checked(engine):
    from funnelflow.db.schema import leads

    with engine.begin() as conn:
        conn.execute(leads.insert().values(email="a@x.io", email_key="a@x.io"))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(leads.insert().values(email="A@x.io", email_key="a@x.io"))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(leads.insert().values(email="b@x.io", email_key="b@x.io", lifecycle_stage="hot"))


def test_timestamps_come_back_in_utc(engine):
    from datetime import datetime, timedelta, timezone

    from funnelflow.db.schema import leads, lifecycle_history

    berlin = timezone(timedelta(hours=1))
    with engine.begin() as conn:
        lead_id = conn.execute(
            leads.insert().values(email="a@x.io", email_key="a@x.io").returning(leads.c.id)
        ).scalar_one()
        conn.execute(
            lifecycle_history.insert().values(
                lead_id=lead_id,
                from_stage=None,
                to_stage="lead",
                changed_at=datetime(2026, 3, 1, 10, 0, tzinfo=berlin),
                reason="test",
            )
        )
        at = conn.execute(sa.select(lifecycle_history.c.changed_at)).scalar_one()
    assert at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert at.utcoffset() == timedelta(0)
