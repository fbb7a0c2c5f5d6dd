"""ingest_files.attempts; typed company facts on leads

A file that kills the ingestion (a zip bomb, a worker out of memory) must not
be retried for ever: ``ingest_files.attempts`` counts the tries per content
hash, durably, at claim time. Company facts typed in an export or a form
(industry, employee count or band, annual revenue or band) are kept on the
lead beside the enriched values on its account; scoring prefers the typed ones.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COMPANY_FACTS = (
    ("industry", sa.String(120)),
    ("employee_count", sa.Integer()),
    ("employee_band", sa.String(40)),
    ("annual_revenue", sa.BigInteger()),
    ("revenue_band", sa.String(40)),
)


def upgrade() -> None:
    with op.batch_alter_table("ingest_files") as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("leads") as batch_op:
        for name, type_ in COMPANY_FACTS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("leads") as batch_op:
        for name, _ in reversed(COMPANY_FACTS):
            batch_op.drop_column(name)
    with op.batch_alter_table("ingest_files") as batch_op:
        batch_op.drop_column("attempts")
