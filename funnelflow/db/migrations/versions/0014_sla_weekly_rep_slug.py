"""sla_weekly.rep_id holds the rep's slug (reps.id is a string since 0010)

sla_weekly was created by 0012 before the reps table existed, with a number for the rep. It is
a derived table (``report weekly`` or ``report backfill`` fills it again), so it is recreated.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _create(rep_id: sa.types.TypeEngine) -> None:
    op.create_table(
        "sla_weekly",
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("team", sa.String(length=120), nullable=False),
        sa.Column("rep_id", rep_id, autoincrement=False, nullable=False),
        sa.Column("items_due", sa.Integer(), server_default="0", nullable=False),
        sa.Column("met", sa.Integer(), server_default="0", nullable=False),
        sa.Column("breached", sa.Integer(), server_default="0", nullable=False),
        sa.Column("median_business_hours_to_first_action", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("week_start", "team", "rep_id", name=op.f("pk_sla_weekly")),
    )


def upgrade() -> None:
    op.drop_table("sla_weekly")
    _create(sa.String(length=60))


def downgrade() -> None:
    op.drop_table("sla_weekly")
    _create(sa.BigInteger())
