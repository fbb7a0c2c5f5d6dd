"""leads: no index on updated_at, the phone index only where there is a phone

The first qualification pass rewrites every lead and most of the new row versions land on
another page (the breakdown is added), so each of them gets an entry in every index of
``leads``. Two of those indexes bought nothing: no query looks leads up or orders them by
``updated_at`` (the changed-leads query compares it with ``qualified_at`` in the same row),
and ``phone_e164`` is NULL for most people and only ever looked up by a value, so its index
becomes partial (``where phone_e164 is not null``), as 0006 did for ``account_id``.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch_op:
        batch_op.drop_index("ix_leads_updated_at")
        batch_op.drop_index("ix_leads_phone_e164")
    op.create_index(
        "ix_leads_phone_e164",
        "leads",
        ["phone_e164"],
        postgresql_where=sa.text("phone_e164 is not null"),
        sqlite_where=sa.text("phone_e164 is not null"),
    )


def downgrade() -> None:
    op.drop_index("ix_leads_phone_e164", table_name="leads")
    with op.batch_alter_table("leads") as batch_op:
        batch_op.create_index("ix_leads_phone_e164", ["phone_e164"])
        batch_op.create_index("ix_leads_updated_at", ["updated_at"])
