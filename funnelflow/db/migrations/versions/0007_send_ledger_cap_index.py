"""email_sends: the index the frequency cap filters on, and who claimed each row

The frequency cap counts a recipient's marketing sends by ``claimed_at``
(``recipient_hash = ? and claimed_at >= ?``); the index was on
``(recipient_hash, sent_at)``, which served no query by ``sent_at`` and made
every claimed → sent update touch it. It becomes ``(recipient_hash,
claimed_at)``: the same leading column for lookups by recipient, the cap's range
on the second, and a column that never changes after the claim.

``claimed_by`` names the task try's task (``dag/task/run``) that claimed the row,
so a retry of the same task finds what an earlier try left ``claimed``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("email_sends") as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(255), nullable=True))
    op.drop_index("ix_email_sends_recipient_hash_sent_at", table_name="email_sends")
    op.create_index(
        "ix_email_sends_recipient_hash_claimed_at", "email_sends", ["recipient_hash", "claimed_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_email_sends_recipient_hash_claimed_at", table_name="email_sends")
    op.create_index("ix_email_sends_recipient_hash_sent_at", "email_sends", ["recipient_hash", "sent_at"])
    with op.batch_alter_table("email_sends") as batch_op:
        batch_op.drop_column("claimed_by")
