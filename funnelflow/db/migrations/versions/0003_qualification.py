"""qualification tables and columns

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

LEAD_COLUMNS = (
    ("email_status", sa.String(length=20)),
    ("email_free", sa.Boolean()),
    ("email_disposable", sa.Boolean()),
    ("email_role", sa.Boolean()),
    ("field_sources", _JSON),
    ("mql_since", sa.DateTime(timezone=True)),
    ("below_threshold_since", sa.DateTime(timezone=True)),
    ("qualified_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        for name, type_ in LEAD_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("competitor", sa.Boolean(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # Scoring rewrites every lead daily. Half of each page free lets the new version of
        # every row on it fit on the same page, so PostgreSQL updates in place (HOT) instead
        # of moving the row and touching every index (at 70, 43% of the daily updates moved).
        op.execute("alter table leads set (fillfactor = 50)")

    op.create_table(
        "enrichment_cache",
        sa.Column("provider", sa.String(length=60), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("found", sa.Boolean(), nullable=False),
        sa.Column("payload", _JSON, nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "domain", name=op.f("pk_enrichment_cache")),
    )
    op.create_table(
        "merge_candidates",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("other_lead_id", sa.BigInteger(), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("evidence", _JSON, nullable=True),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        sa.CheckConstraint(
            "status in ('pending', 'accepted', 'rejected', 'merged')", name=op.f("ck_merge_candidates_status")
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_merge_candidates_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["other_lead_id"],
            ["leads.id"],
            name=op.f("fk_merge_candidates_other_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merge_candidates")),
        sa.UniqueConstraint(
            "lead_id", "other_lead_id", name=op.f("uq_merge_candidates_lead_id_other_lead_id")
        ),
    )
    op.create_table(
        "lead_merges",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("winner_id", sa.BigInteger(), nullable=False),
        sa.Column("loser_id", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=True),
        sa.Column("undo", _JSON, nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("merged_by", sa.String(length=120), nullable=True),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(length=120), nullable=True),
        sa.CheckConstraint("method in ('auto', 'review')", name=op.f("ck_lead_merges_method")),
        sa.ForeignKeyConstraint(
            ["winner_id"], ["leads.id"], name=op.f("fk_lead_merges_winner_id_leads"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["loser_id"], ["leads.id"], name=op.f("fk_lead_merges_loser_id_leads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_merges")),
    )
    with op.batch_alter_table("lead_merges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_merges_winner_id"), ["winner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_lead_merges_loser_id"), ["loser_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lead_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_merges_loser_id"))
        batch_op.drop_index(batch_op.f("ix_lead_merges_winner_id"))
    op.drop_table("lead_merges")
    op.drop_table("merge_candidates")
    op.drop_table("enrichment_cache")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("alter table leads reset (fillfactor)")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("competitor")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        for name, _type in reversed(LEAD_COLUMNS):
            batch_op.drop_column(name)
