"""leads: indexes sized for bulk ingestion

Every index on ``leads`` is paid for by each lead a file import creates. The
``email_domain`` index served no query, so it goes. ``account_id`` and the
source's ``(external_source, external_id)`` are NULL for most people, so their
indexes become partial (``where ... is not null``): the same lookups and the
same uniqueness (NULLs never conflicted), without an entry per new lead.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch_op:
        batch_op.drop_index("ix_leads_email_domain")
        batch_op.drop_index("ix_leads_account_id")
        batch_op.drop_constraint("uq_leads_external_source_external_id", type_="unique")
    op.create_index(
        "ix_leads_account_id",
        "leads",
        ["account_id"],
        postgresql_where=sa.text("account_id is not null"),
        sqlite_where=sa.text("account_id is not null"),
    )
    op.create_index(
        "uq_leads_external_id",
        "leads",
        ["external_source", "external_id"],
        unique=True,
        postgresql_where=sa.text("external_id is not null"),
        sqlite_where=sa.text("external_id is not null"),
    )


def downgrade() -> None:
    op.drop_index("uq_leads_external_id", table_name="leads")
    op.drop_index("ix_leads_account_id", table_name="leads")
    with op.batch_alter_table("leads") as batch_op:
        batch_op.create_unique_constraint(
            "uq_leads_external_source_external_id", ["external_source", "external_id"]
        )
        batch_op.create_index("ix_leads_account_id", ["account_id"])
        batch_op.create_index("ix_leads_email_domain", ["email_domain"])
