"""sales handoff: reps, the sales queue and its history, opportunities, owners by rep id

``accounts.owner_rep_id`` and ``leads.owner_rep_id`` were placeholders (bigint,
no key); reps are named by the slug of config/sales_team.yaml, so both become
text with a foreign key to ``reps``. Leads gain the recycle cooldown clocks a
rep's rejection sets.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TS = sa.DateTime(timezone=True)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "reps",
        sa.Column("id", sa.String(60), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("team", sa.String(60), nullable=False),
        sa.Column("manager_id", sa.String(60), nullable=True),
        sa.Column("timezone", sa.String(60), nullable=False),
        sa.Column("calendar", sa.String(20), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("in_team_file", sa.Boolean(), nullable=False),
        sa.Column("profile", _JSON, nullable=True),
        sa.Column("synced_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reps"),
    )
    for table in ("accounts", "leads"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(
                "owner_rep_id",
                existing_type=sa.BigInteger(),
                type_=sa.String(60),
                existing_nullable=True,
                postgresql_using="owner_rep_id::text",
            )
            batch_op.create_foreign_key(
                f"fk_{table}_owner_rep_id_reps", "reps", ["owner_rep_id"], ["id"], ondelete="SET NULL"
            )
    with op.batch_alter_table("leads") as batch_op:
        batch_op.add_column(sa.Column("sales_recycled_at", _TS, nullable=True))
        batch_op.add_column(sa.Column("recycle_cooldown_until", _TS, nullable=True))

    op.create_table(
        "sales_queue",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("entry_key", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rep_id", sa.String(60), nullable=True),
        sa.Column("routing_reason", sa.String(255), nullable=True),
        sa.Column("fit_grade", sa.String(1), nullable=True),
        sa.Column("entered_at", _TS, nullable=False),
        sa.Column("assigned_at", _TS, nullable=True),
        sa.Column("due_at", _TS, nullable=True),
        sa.Column("remind_at", _TS, nullable=True),
        sa.Column("reassign_at", _TS, nullable=True),
        sa.Column("first_action_at", _TS, nullable=True),
        sa.Column("reminded_at", _TS, nullable=True),
        sa.Column("escalated_at", _TS, nullable=True),
        sa.Column("closed_at", _TS, nullable=True),
        sa.Column("outcome_reason", sa.String(60), nullable=True),
        sa.Column("sla_outcome", sa.String(10), nullable=True),
        sa.Column("crm_status", sa.String(20), nullable=True),
        sa.Column("crm_error", sa.Text(), nullable=True),
        sa.Column("crm_external_id", sa.String(120), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint(
            _in("kind", ("handoff", "call_back", "check_in", "renewal", "upsell")), name="ck_sales_queue_kind"
        ),
        sa.CheckConstraint(
            _in("status", ("open", "accepted", "rejected", "won", "lost", "closed", "unassigned")),
            name="ck_sales_queue_status",
        ),
        sa.CheckConstraint(
            "sla_outcome is null or sla_outcome in ('met', 'breached')", name="ck_sales_queue_sla_outcome"
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name="fk_sales_queue_lead_id_leads", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["rep_id"], ["reps.id"], name="fk_sales_queue_rep_id_reps", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sales_queue"),
        sa.UniqueConstraint("entry_key", name="uq_sales_queue_entry_key"),
    )
    op.create_index("ix_sales_queue_lead_id", "sales_queue", ["lead_id"])
    op.create_index("ix_sales_queue_rep_id_status", "sales_queue", ["rep_id", "status"])
    op.create_index("ix_sales_queue_status_due_at", "sales_queue", ["status", "due_at"])

    op.create_table(
        "sales_queue_history",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=True),
        sa.Column("to_status", sa.String(20), nullable=True),
        sa.Column("rep_id", sa.String(60), nullable=True),
        sa.Column("detail", _JSON, nullable=True),
        sa.Column("run_id", sa.String(250), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["sales_queue.id"],
            name="fk_sales_queue_history_item_id_sales_queue",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sales_queue_history"),
    )
    op.create_index("ix_sales_queue_history_item_id", "sales_queue_history", ["item_id"])

    op.create_table(
        "opportunities",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("external_id", sa.String(120), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=True),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column("rep_id", sa.String(60), nullable=True),
        sa.Column("amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("closed_at", _TS, nullable=True),
        sa.Column("renewal_date", sa.Date(), nullable=True),
        sa.Column("crm_updated_at", _TS, nullable=True),
        sa.Column("synced_at", _TS, nullable=False),
        sa.CheckConstraint(_in("kind", ("new", "renewal", "upsell")), name="ck_opportunities_kind"),
        sa.CheckConstraint(_in("stage", ("open", "won", "lost")), name="ck_opportunities_stage"),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name="fk_opportunities_lead_id_leads", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_opportunities_account_id_accounts", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["rep_id"], ["reps.id"], name="fk_opportunities_rep_id_reps", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_opportunities"),
        sa.UniqueConstraint("external_id", name="uq_opportunities_external_id"),
    )
    op.create_index("ix_opportunities_lead_id", "opportunities", ["lead_id"])


def downgrade() -> None:
    op.drop_index("ix_opportunities_lead_id", table_name="opportunities")
    op.drop_table("opportunities")
    op.drop_index("ix_sales_queue_history_item_id", table_name="sales_queue_history")
    op.drop_table("sales_queue_history")
    op.drop_index("ix_sales_queue_status_due_at", table_name="sales_queue")
    op.drop_index("ix_sales_queue_rep_id_status", table_name="sales_queue")
    op.drop_index("ix_sales_queue_lead_id", table_name="sales_queue")
    op.drop_table("sales_queue")
    with op.batch_alter_table("leads") as batch_op:
        batch_op.drop_column("recycle_cooldown_until")
        batch_op.drop_column("sales_recycled_at")
    for table in ("leads", "accounts"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_owner_rep_id_reps", type_="foreignkey")
            batch_op.alter_column(
                "owner_rep_id",
                existing_type=sa.String(60),
                type_=sa.BigInteger(),
                existing_nullable=True,
                postgresql_using="null::bigint",
            )
    op.drop_table("reps")
