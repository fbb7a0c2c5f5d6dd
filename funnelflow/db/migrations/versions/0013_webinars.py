"""webinars and their registrations

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webinars",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("starts_at", _TS, nullable=False),
        sa.Column("ends_at", _TS, nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("seats_taken", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=20), server_default="scheduled", nullable=False),
        sa.Column("sequence", sa.Integer(), server_default="0", nullable=False),
        sa.Column("schedule_hash", sa.String(length=64), nullable=False),
        sa.Column("join_url", sa.Text(), nullable=False),
        sa.Column("recording_url", sa.Text(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("attendance_loaded_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.CheckConstraint("status in ('scheduled', 'cancelled')", name=op.f("ck_webinars_status")),
        sa.CheckConstraint("seats_taken >= 0 and seats_taken <= capacity", name=op.f("ck_webinars_seats")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webinars")),
        sa.UniqueConstraint("slug", name=op.f("uq_webinars_slug")),
    )
    op.create_table(
        "webinar_registrations",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("webinar_id", sa.BigInteger(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("holds_seat", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("registered_at", _TS, nullable=False),
        sa.Column("promoted_at", _TS, nullable=True),
        sa.Column("cancelled_at", _TS, nullable=True),
        sa.Column("minutes_attended", sa.Integer(), nullable=True),
        sa.Column("first_joined_at", _TS, nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.CheckConstraint(
            "status in ('registered', 'waitlisted', 'cancelled', 'attended', 'no_show')",
            name=op.f("ck_webinar_registrations_status"),
        ),
        sa.ForeignKeyConstraint(
            ["webinar_id"],
            ["webinars.id"],
            name=op.f("fk_webinar_registrations_webinar_id_webinars"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_webinar_registrations_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webinar_registrations")),
        sa.UniqueConstraint(
            "webinar_id", "lead_id", name=op.f("uq_webinar_registrations_webinar_id_lead_id")
        ),
    )
    op.create_index(
        op.f("ix_webinar_registrations_lead_id"), "webinar_registrations", ["lead_id"], unique=False
    )
    op.create_index(
        "ix_webinar_registrations_waitlist",
        "webinar_registrations",
        ["webinar_id", "status", "registered_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("webinar_registrations")
    op.drop_table("webinars")
