"""email engagement, suppression and privacy tables and columns

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
