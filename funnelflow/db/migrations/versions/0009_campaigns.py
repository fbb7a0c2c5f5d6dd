"""campaigns: runs, stored audiences, offer counters; the ledger's A/B variant

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
UTCDateTime = sa.DateTime
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("email_sends") as batch_op:
        batch_op.add_column(sa.Column("variant", sa.String(8)))
    op.create_table(
        "campaign_runs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("campaign", sa.String(120), nullable=False),
        sa.Column("run_key", sa.String(40), nullable=False),
        sa.Column("as_of", UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("audience", sa.Integer(), nullable=False),
        sa.Column("sendable", sa.Integer(), nullable=False),
        sa.Column("winner", sa.String(8)),
        sa.Column("decision", Json),
        sa.Column("resolved_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", UTCDateTime(timezone=True)),
        sa.Column("stop_requested_at", UTCDateTime(timezone=True)),
        sa.Column("finished_at", UTCDateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_campaign_runs"),
        sa.UniqueConstraint("campaign", "run_key", name="uq_campaign_runs_campaign_run_key"),
        sa.CheckConstraint(
            "status in ('resolved', 'testing', 'tested', 'sending', 'stopped', 'done')",
            name="ck_campaign_runs_status",
        ),
    )
    op.create_table(
        "campaign_audiences",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("cell", sa.String(8)),
        sa.PrimaryKeyConstraint("run_id", "lead_id", name="pk_campaign_audiences"),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["campaign_runs.id"],
            name="fk_campaign_audiences_run_id_campaign_runs",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "campaign_offers",
        sa.Column("campaign", sa.String(120), nullable=False),
        sa.Column("claim_limit", sa.Integer(), nullable=False),
        sa.Column("claims", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("campaign", name="pk_campaign_offers"),
        sa.CheckConstraint(
            "claims >= 0 and claims <= claim_limit", name="ck_campaign_offers_claims_within_limit"
        ),
    )


def downgrade() -> None:
    op.drop_table("campaign_offers")
    op.drop_table("campaign_audiences")
    op.drop_table("campaign_runs")
    with op.batch_alter_table("email_sends") as batch_op:
        batch_op.drop_column("variant")
