"""weekly funnel metrics: the result tables of issue 14

``metrics_weeks`` records each computed week and its bounds; ``funnel_weekly``,
``funnel_cohorts``, ``funnel_velocity``, ``email_weekly`` and ``attribution_weekly``
are computed by ``funnelflow.metrics``. ``webinar_weekly``, ``sla_weekly``,
``sla_rejections_weekly`` and ``retention_weekly`` are created now and filled once
the webinar and sales tables exist.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attribution_weekly",
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("model", sa.String(length=20), nullable=False),
        sa.Column("conversion", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("campaign", sa.String(length=255), nullable=False),
        sa.Column("credit", sa.Float(), nullable=False),
        sa.Column("revenue_credit", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.CheckConstraint(
            "conversion in ('sql', 'customer')", name=op.f("ck_attribution_weekly_conversion")
        ),
        sa.CheckConstraint(
            "model in ('first_touch', 'last_touch', 'linear', 'u_shaped', 'w_shaped')",
            name=op.f("ck_attribution_weekly_model"),
        ),
        sa.PrimaryKeyConstraint(
            "week_start", "model", "conversion", "channel", "campaign", name=op.f("pk_attribution_weekly")
        ),
    )
    op.create_table(
        "email_weekly",
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("campaign", sa.String(length=255), nullable=False),
        sa.Column("sent", sa.Integer(), server_default="0", nullable=False),
        sa.Column("delivered", sa.Integer(), server_default="0", nullable=False),
        sa.Column("bounced", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unique_opens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unique_clicks", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unsubscribes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("spam_reports", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("week_start", "campaign", name=op.f("pk_email_weekly")),
    )
    op.create_table(
        "funnel_cohorts",
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("cohort_week_start", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("leads", sa.Integer(), server_default="0", nullable=False),
        sa.Column("mql", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sql", sa.Integer(), server_default="0", nullable=False),
        sa.Column("customer", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "dimension in ('all', 'channel', 'source', 'campaign')", name=op.f("ck_funnel_cohorts_dimension")
        ),
        sa.PrimaryKeyConstraint(
            "week_start", "cohort_week_start", "dimension", "value", name=op.f("pk_funnel_cohorts")
        ),
    )
    op.create_table(
        "funnel_velocity",
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("transition", sa.String(length=30), nullable=False),
        sa.Column("leads", sa.Integer(), server_default="0", nullable=False),
        sa.Column("median_days", sa.Float(), nullable=True),
        sa.Column("p90_days", sa.Float(), nullable=True),
        sa.CheckConstraint(
            "transition in ('lead_mql', 'mql_sql', 'sql_opportunity', 'opportunity_customer')",
            name=op.f("ck_funnel_velocity_transition"),
        ),
        sa.PrimaryKeyConstraint("week_start", "transition", name=op.f("pk_funnel_velocity")),
    )
    op.create_table(
        "funnel_weekly",
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("new_leads", sa.Integer(), server_default="0", nullable=False),
        sa.Column("mql", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sql", sa.Integer(), server_default="0", nullable=False),
        sa.Column("opportunity", sa.Integer(), server_default="0", nullable=False),
        sa.Column("customer", sa.Integer(), server_default="0", nullable=False),
        sa.Column("recycled", sa.Integer(), server_default="0", nullable=False),
        sa.Column("disqualified", sa.Integer(), server_default="0", nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=True),
        sa.Column("rejected", sa.Integer(), nullable=True),
        sa.Column("won_revenue", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.CheckConstraint(
            "dimension in ('all', 'channel', 'source', 'campaign')", name=op.f("ck_funnel_weekly_dimension")
        ),
        sa.PrimaryKeyConstraint("week_start", "dimension", "value", name=op.f("pk_funnel_weekly")),
    )
    op.create_table(
        "metrics_weeks",
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("iso_week", sa.String(length=8), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("week_start", name=op.f("pk_metrics_weeks")),
    )
    op.create_table(
        "retention_weekly",
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("renewals_due", sa.Integer(), server_default="0", nullable=False),
        sa.Column("renewals_won", sa.Integer(), server_default="0", nullable=False),
        sa.Column("renewal_rate", sa.Float(), nullable=True),
        sa.Column("upsell_revenue", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.PrimaryKeyConstraint("week_start", name=op.f("pk_retention_weekly")),
    )
    op.create_table(
        "sla_rejections_weekly",
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=120), nullable=False),
        sa.Column("dimension", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("rejected", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "dimension in ('all', 'channel', 'source', 'campaign')",
            name=op.f("ck_sla_rejections_weekly_dimension"),
        ),
        sa.PrimaryKeyConstraint(
            "week_start", "reason", "dimension", "value", name=op.f("pk_sla_rejections_weekly")
        ),
    )
    op.create_table(
        "sla_weekly",
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("team", sa.String(length=120), nullable=False),
        sa.Column("rep_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("items_due", sa.Integer(), server_default="0", nullable=False),
        sa.Column("met", sa.Integer(), server_default="0", nullable=False),
        sa.Column("breached", sa.Integer(), server_default="0", nullable=False),
        sa.Column("median_business_hours_to_first_action", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("week_start", "team", "rep_id", name=op.f("pk_sla_weekly")),
    )
    op.create_table(
        "webinar_weekly",
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("webinar_id", sa.String(length=120), nullable=False),
        sa.Column("webinar_name", sa.String(length=255), nullable=True),
        sa.Column("invited", sa.Integer(), server_default="0", nullable=False),
        sa.Column("registered", sa.Integer(), server_default="0", nullable=False),
        sa.Column("waitlisted", sa.Integer(), server_default="0", nullable=False),
        sa.Column("attended", sa.Integer(), server_default="0", nullable=False),
        sa.Column("no_show", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("week_start", "webinar_id", name=op.f("pk_webinar_weekly")),
    )


def downgrade() -> None:
    op.drop_table("webinar_weekly")
    op.drop_table("sla_weekly")
    op.drop_table("sla_rejections_weekly")
    op.drop_table("retention_weekly")
    op.drop_table("metrics_weeks")
    op.drop_table("funnel_weekly")
    op.drop_table("funnel_velocity")
    op.drop_table("funnel_cohorts")
    op.drop_table("email_weekly")
    op.drop_table("attribution_weekly")
