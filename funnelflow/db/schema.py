"""The marketing database: the CRM's single source of truth.

SQLAlchemy Core tables, one per thing analysts query. Alembic migrations in
``funnelflow/db/migrations/versions`` create exactly this (a test compares the
migrated database with this metadata on SQLite and PostgreSQL), so a change here
always comes with a migration.

Conventions: ``id`` is a surrogate key; timestamps are UTC (``UTCDateTime``
returns aware datetimes on both backends); email addresses are stored only in
``leads.email``/``leads.email_key`` and, for privacy, everywhere else as
``email_hash`` (SHA-256 of the email key, see ``funnelflow.identity``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import DateTime, TypeDecorator

from funnelflow import clock

# Constraint names follow one pattern so migrations can refer to them on both backends.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
Id = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always returned timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a timezone first")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The time to stamp on what happened (received_at, created_at, sent_at), never for business logic:
    the wall clock, unless the demo or a test moved it (``funnelflow.clock``)."""
    return clock.now()


LIFECYCLE_STAGES = ("subscriber", "lead", "mql", "sql", "opportunity", "customer", "recycled", "disqualified")
CONSENT_STATUSES = ("pending", "granted", "denied", "withdrawn")
SUPPRESSION_REASONS = (
    "unsubscribe",
    "bounce",
    "spam_report",
    "invalid",
    "do_not_email",
    "manual",
    "erased",
    "group_unsubscribe",
)
# What happened at a touch. Scoring (qualification) reads these; sources write them.
TOUCH_TYPES = (
    "form_fill",  # web form (page_url says which: /demo, /pricing, /contact, ...)
    "import",  # a row in a dropped file (trade show, list upload, CRM export)
    "ad_lead",  # an ad-platform lead form
    "webinar_registered",
    "webinar_attended",  # detail.minutes: time in session, rejoins summed
    "webinar_no_show",
    "email_open",
    "email_click",  # detail.url is the link clicked
    "page_view",  # detail.url; high-intent pages (pricing, demo) score more
    "sales_activity",  # later: rep feedback
    "offer_claimed",  # a campaign's limited-time offer claimed (funnelflow.campaigns.offers)
)
CHANNELS = ("web_form", "file_import", "ad_form", "webinar", "email", "web", "sales")
SEND_STATUSES = ("claimed", "sent", "delivered", "failed", "skipped", "bounced", "dropped", "unsettled")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


def _id(**kw) -> Column:
    return Column("id", Id, primary_key=True, autoincrement=True, **kw)


def _ts(name: str, nullable: bool = True, **kw) -> Column:
    return Column(name, UTCDateTime(), nullable=nullable, **kw)


accounts = Table(
    "accounts",
    metadata,
    _id(),
    Column("domain", String(255), nullable=True, unique=True),
    Column("name", String(255)),
    Column("industry", String(120)),
    Column("employee_band", String(40)),
    Column("revenue_band", String(40)),
    Column("country", String(2)),
    Column("region", String(40)),
    # The rep who owns the account (sales handoff, migration 0010): the account's later leads follow.
    Column("owner_rep_id", String(60), ForeignKey("reps.id", ondelete="SET NULL"), nullable=True),
    Column("enrichment_source", String(60)),
    Column("competitor", Boolean),  # qualification (migration 0003): from the enrichment provider
    _ts("enriched_at"),
    _ts("created_at", nullable=False, default=utcnow),
    _ts("updated_at", nullable=False, default=utcnow, onupdate=utcnow),
)

leads = Table(
    "leads",
    metadata,
    _id(),
    Column("email", String(320), nullable=True),  # as typed, trimmed and lower-cased
    Column(
        "email_key", String(320), nullable=True, unique=True
    ),  # canonical dedupe key (funnelflow.identity)
    Column("email_domain", String(255), nullable=True),
    Column("first_name", String(120)),
    Column("last_name", String(120)),
    Column("company", String(255)),
    Column("job_title", String(255)),
    Column("phone", String(64)),  # as typed
    Column("phone_e164", String(20)),  # indexed where set (below)
    Column("country", String(2)),  # ISO 3166-1 alpha-2
    Column("external_source", String(60)),
    Column("external_id", String(255)),
    Column("account_id", BigInteger, ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True),
    Column("lifecycle_stage", String(20), nullable=False, default="lead", server_default="lead"),
    _ts("lifecycle_changed_at"),
    Column("fit_score", Integer),
    Column("fit_grade", String(1)),
    Column("engagement_score", Float),
    Column("score_breakdown", Json),
    _ts("scored_at"),
    Column("seniority", String(40)),
    Column("department", String(60)),
    Column("owner_rep_id", String(60), ForeignKey("reps.id", ondelete="SET NULL"), nullable=True),
    Column("original_source", String(60)),
    # Company facts as a person or an export typed them (migration 0011); scoring prefers them to the
    # account's enriched values, and enrichment never writes them. field_sources names where each came from.
    Column("industry", String(120)),
    Column("employee_count", Integer),
    Column("employee_band", String(40)),
    Column("annual_revenue", BigInteger),  # whole currency units, as typed
    Column("revenue_band", String(40)),
    # qualification (issue 4, migration 0003): email checks, provenance, lifecycle clocks
    Column("email_status", String(20)),  # valid, invalid (syntax or domain), unchecked
    Column("email_free", Boolean),
    Column("email_disposable", Boolean),
    Column("email_role", Boolean),
    Column("field_sources", Json),  # {field: {"source", "confidence"}}: where each value came from
    _ts("mql_since"),
    _ts("below_threshold_since"),  # an MQL under the threshold since then; recycled after N days
    _ts("qualified_at"),  # the updated_at qualification last processed (changed = updated_at > qualified_at)
    _ts("first_seen_at"),
    _ts("last_seen_at"),
    Column("merged_into_id", BigInteger, ForeignKey("leads.id", ondelete="SET NULL"), nullable=True),
    _ts("erased_at"),
    # sales handoff (migration 0010): a rep rejected the lead; no SQL again before the cooldown
    # ends unless a high-intent action happens after the rejection
    _ts("sales_recycled_at"),
    _ts("recycle_cooldown_until"),
    _ts("created_at", nullable=False, default=utcnow),
    # Not indexed (migration 0015): nothing looks leads up by it, and every index costs the scoring pass.
    _ts("updated_at", nullable=False, default=utcnow, onupdate=utcnow),
    CheckConstraint(_in("lifecycle_stage", LIFECYCLE_STAGES), name="lifecycle_stage"),
    CheckConstraint("fit_grade is null or fit_grade in ('A', 'B', 'C', 'D')", name="fit_grade"),
)
Index("ix_leads_lifecycle_stage", leads.c.lifecycle_stage)
# Partial (migration 0006): most leads have neither,
# and every index is paid for by each lead a file import creates.
Index(
    "ix_leads_account_id",
    leads.c.account_id,
    postgresql_where=leads.c.account_id.isnot(None),
    sqlite_where=leads.c.account_id.isnot(None),
)
# The merged leads (migration 0015; partial: few leads are merged): merge chains are followed
# through it (include/sql/metrics/stg_lead_owner.sql, the leads merged into a deleted lead).
Index(
    "ix_leads_merged_into_id",
    leads.c.merged_into_id,
    postgresql_where=leads.c.merged_into_id.isnot(None),
    sqlite_where=leads.c.merged_into_id.isnot(None),
)
Index(
    "ix_leads_phone_e164",
    leads.c.phone_e164,
    postgresql_where=leads.c.phone_e164.isnot(None),
    sqlite_where=leads.c.phone_e164.isnot(None),
)
Index(
    "uq_leads_external_id",
    leads.c.external_source,
    leads.c.external_id,
    unique=True,
    postgresql_where=leads.c.external_id.isnot(None),
    sqlite_where=leads.c.external_id.isnot(None),
)

touchpoints = Table(
    "touchpoints",
    metadata,
    _id(),
    Column("lead_id", BigInteger, ForeignKey("leads.id", ondelete="CASCADE"), nullable=False),
    _ts("occurred_at", nullable=False),
    Column("channel", String(40), nullable=False),  # web_form, file_import, ad_form, email, webinar, web
    Column(
        "touch_type", String(40), nullable=False
    ),  # form_fill, import, ad_lead, email_open, email_click, ...
    Column("source", String(120)),  # the source's name in config: "website", "tradeshow-2026-berlin", ...
    Column("campaign", String(255)),
    Column("utm_source", String(255)),
    Column("utm_medium", String(255)),
    Column("utm_campaign", String(255)),
    Column("utm_term", String(255)),
    Column("utm_content", String(255)),
    Column("page_url", Text),
    Column("detail", Json),  # anything else the source says (url clicked, send id, ...)
    Column("source_ref", String(255), nullable=True, unique=True),  # idempotency key of the arrival
    Column(
        "scored", Boolean, nullable=False, default=True, server_default="1"
    ),  # machine opens are kept, not scored
    _ts("created_at", nullable=False, default=utcnow, index=True),
)
Index("ix_touchpoints_lead_id_occurred_at", touchpoints.c.lead_id, touchpoints.c.occurred_at)

lifecycle_history = Table(
    "lifecycle_history",
    metadata,
    _id(),
    Column("lead_id", BigInteger, ForeignKey("leads.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("from_stage", String(20), nullable=True),
    Column("to_stage", String(20), nullable=False),
    _ts("changed_at", nullable=False),
    Column("reason", String(255), nullable=False),  # the rule (or action) that caused it
    Column("run_id", String(250)),
)
# The weeks' stage changes by time (migration 0015): a week's metrics read only that week's rows.
Index("ix_lifecycle_history_changed_at", lifecycle_history.c.changed_at)

ingest_rejects = Table(
    "ingest_rejects",
    metadata,
    _id(),
    Column("source", String(120), nullable=False),
    Column("source_file", String(500)),
    Column("line_number", Integer),
    Column("reason", String(500), nullable=False),
    Column("raw", Json, nullable=False),
    _ts("received_at", nullable=False, default=utcnow),
    _ts("replayed_at"),
    Column("replay_outcome", String(40)),  # null until replayed: inserted, updated, duplicate, rejected
    Index("ix_ingest_rejects_unreplayed", "source", "replayed_at"),
)

consents = Table(
    # Append-only: the newest row per (lead, channel) is the current status; older rows are the proof.
    "consents",
    metadata,
    _id(),
    Column("lead_id", BigInteger, ForeignKey("leads.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(20), nullable=False, default="email", server_default="email"),
    Column("status", String(20), nullable=False),
    Column("legal_basis", String(40)),  # consent, legitimate_interest, contract
    Column("source", String(120)),
    Column("wording_version", String(60)),
    Column("client_ip", String(45)),
    _ts("recorded_at", nullable=False),
    CheckConstraint(_in("status", CONSENT_STATUSES), name="status"),
    Index("ix_consents_lead_id_channel_recorded_at", "lead_id", "channel", "recorded_at"),
)

suppressions = Table(
    # Keyed by the hash of the email key, so a suppression outlives the erasure of the person.
    "suppressions",
    metadata,
    _id(),
    Column("email_hash", String(64), nullable=False),
    Column("reason", String(30), nullable=False),
    Column("scope", String(20), nullable=False, default="all", server_default="all"),  # all, marketing
    Column("source", String(120)),
    Column("detail", String(500)),
    _ts("created_at", nullable=False, default=utcnow),
    UniqueConstraint("email_hash", "reason"),
    CheckConstraint(_in("reason", SUPPRESSION_REASONS), name="reason"),
)

email_sends = Table(
    # The send ledger: one row per (message key, recipient), claimed before the request.
    "email_sends",
    metadata,
    _id(),
    Column("message_key", String(255), nullable=False),
    Column("recipient_hash", String(64), nullable=False),
    Column("lead_id", BigInteger, ForeignKey("leads.id", ondelete="SET NULL"), nullable=True, index=True),
    Column("campaign_id", String(120)),
    Column("template", String(120), nullable=False),
    Column("kind", String(20), nullable=False),  # marketing, transactional
    Column("status", String(20), nullable=False),
    Column("skip_reason", String(120)),
    Column("error", Text),
    Column("provider_message_id", String(255)),
    _ts("claimed_at", nullable=False),
    _ts("sent_at"),
    _ts("settled_at"),
    Column("claimed_by", String(255)),  # the task (dag/task/run) whose try claimed the row (0007)
    Column("variant", String(8)),  # campaigns (migration 0009): the A/B subject variant sent
    UniqueConstraint("message_key", "recipient_hash"),
    CheckConstraint(_in("status", SEND_STATUSES), name="status"),
    CheckConstraint("kind in ('marketing', 'transactional')", name="kind"),
    # The frequency cap counts a recipient's sends by claimed_at (0007; was (recipient_hash, sent_at)).
    Index("ix_email_sends_recipient_hash_claimed_at", "recipient_hash", "claimed_at"),
)

email_events = Table(
    "email_events",
    metadata,
    _id(),
    Column("sg_event_id", String(255), nullable=False, unique=True),
    Column("event", String(40), nullable=False),
    Column("send_id", BigInteger, nullable=True, index=True),  # email_sends.id from custom_args
    Column("sg_message_id", String(255)),
    Column("email_hash", String(64)),
    _ts("occurred_at", nullable=False),
    _ts("received_at", nullable=False, default=utcnow),
    Column("url", Text),
    Column("reason", Text),
    Column("machine_open", Boolean, nullable=False, default=False, server_default="0"),
    Column("payload", Json),  # the event without the address
    _ts("processed_at"),
    Index("ix_email_events_unprocessed", "processed_at", "id"),
)

lead_landing = Table(
    # Raw arrivals from the public app and HTTP sources, written before any processing.
    "lead_landing",
    metadata,
    _id(),
    Column("source", String(120), nullable=False),
    _ts("received_at", nullable=False),
    Column("payload", Json, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("client_ip", String(45)),
    _ts("processed_at"),
    Column("outcome", String(40)),  # inserted, updated, duplicate, rejected
    Index("ix_lead_landing_unprocessed", "processed_at", "id"),
)

pipeline_state = Table(
    # Watermarks and cursors, written in the same transaction as the rows they cover.
    "pipeline_state",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("value", Json, nullable=False),
    _ts("updated_at", nullable=False, default=utcnow, onupdate=utcnow),
)

# --- ingestion (issue 3) adds tables below, with migration 0002 ---

INGEST_FILE_STATUSES = ("claimed", "ingested", "failed")

ingest_files = Table(
    # One row per distinct file content seen in the inbox: the claim that stops two
    # workers taking the same file, and the memory that a re-dropped copy adds nothing.
    "ingest_files",
    metadata,
    _id(),
    Column("content_hash", String(64), nullable=False, unique=True),  # SHA-256 of the file's bytes
    Column("file_name", String(500), nullable=False),
    Column("source", String(120)),
    Column("status", String(20), nullable=False),
    Column("claim_token", String(64), nullable=False),
    _ts("claimed_at", nullable=False),
    _ts("finished_at"),
    Column("counts", Json),  # rows_in, inserted, updated, rejected, duplicates
    Column("stored_as", String(1000)),  # where the file went: archive/... or failed/...
    Column("reason", String(500)),  # why a file failed (or why its last attempt stopped)
    # Tries so far (migration 0011), counted when the file is claimed, so a try that kills the process counts.
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    CheckConstraint(_in("status", INGEST_FILE_STATUSES), name="status"),
)

# --- qualification (issue 4) adds tables below, with migration 0003 ---

enrichment_cache = Table(
    # What a provider said about a domain (found or not), refreshed after the TTL.
    "enrichment_cache",
    metadata,
    Column("provider", String(60), primary_key=True),
    Column("domain", String(255), primary_key=True),
    Column("found", Boolean, nullable=False),
    Column("payload", Json),  # the firmographics as the provider gave them
    _ts("fetched_at", nullable=False),
)

MERGE_CANDIDATE_STATUSES = ("pending", "accepted", "rejected", "merged")

merge_candidates = Table(
    # Likely duplicates between the two bars, waiting for marketing ops (`merges accept|reject`).
    "merge_candidates",
    metadata,
    _id(),
    Column("lead_id", BigInteger, ForeignKey("leads.id", ondelete="CASCADE"), nullable=False),
    Column("other_lead_id", BigInteger, ForeignKey("leads.id", ondelete="CASCADE"), nullable=False),
    Column("similarity", Float, nullable=False),
    Column("evidence", Json),  # name/company/phone similarity that made the pair
    Column("status", String(20), nullable=False, default="pending", server_default="pending"),
    _ts("found_at", nullable=False),
    _ts("decided_at"),
    Column("decided_by", String(120)),
    UniqueConstraint("lead_id", "other_lead_id"),
    CheckConstraint(_in("status", MERGE_CANDIDATE_STATUSES), name="status"),
)

lead_merges = Table(
    # Every merge, with what it moved and what it filled in, so it can be undone exactly.
    "lead_merges",
    metadata,
    _id(),
    Column("winner_id", BigInteger, ForeignKey("leads.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("loser_id", BigInteger, ForeignKey("leads.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("method", String(20), nullable=False),  # auto, review
    Column("similarity", Float),
    Column("undo", Json, nullable=False),  # moved row ids per table, winner fields before, loser stage before
    _ts("merged_at", nullable=False),
    Column("merged_by", String(120)),
    _ts("undone_at"),
    Column("undone_by", String(120)),
    CheckConstraint("method in ('auto', 'review')", name="method"),
)

# --- email sending (issue 5) adds tables below, with migration 0004 ---

# --- email engagement, suppression sync and privacy (issue 5) add tables below, with migration 0005 ---

erasures = Table(
    # Proof that a person was forgotten: what was asked, when, and how many rows/files changed.
    # Names no one: the request is a lead id or an email hash, never an address.
    "erasures",
    metadata,
    _id(),
    Column("requested", String(80), nullable=False),  # "lead:<id>" or "hash:<sha256>"
    Column("lead_ids", Json, nullable=False),
    Column("run_id", String(250)),
    _ts("erased_at", nullable=False),
    Column("summary", Json, nullable=False),  # counts per place erased or anonymized
)

# --- weekly funnel metrics (issue 14) add tables below, with migration 0012 ---
# One module writes them: funnelflow.metrics (delete the week, insert it, one transaction).
# Definitions of every figure: README.md, "Funnel metrics". Columns left NULL are figures
# whose source tables (sales queue, opportunities, webinars) do not exist yet.

METRIC_DIMENSIONS = ("all", "channel", "source", "campaign")
VELOCITY_TRANSITIONS = ("lead_mql", "mql_sql", "sql_opportunity", "opportunity_customer")
ATTRIBUTION_MODELS = ("first_touch", "last_touch", "linear", "u_shaped", "w_shaped")
ATTRIBUTION_CONVERSIONS = ("sql", "customer")
Money = Numeric(14, 2)


def _count(name: str, nullable: bool = False) -> Column:
    if nullable:  # not computed yet: NULL, never a made-up zero
        return Column(name, Integer, nullable=True)
    return Column(name, Integer, nullable=False, default=0, server_default="0")


metrics_weeks = Table(
    # Which weeks are computed, with the UTC instants that bound them in the report time zone:
    # a week with no activity has no rows elsewhere, and this says it was computed anyway.
    "metrics_weeks",
    metadata,
    Column("week_start", Date, primary_key=True),
    Column("iso_week", String(8), nullable=False),  # 2026-W48
    Column("timezone", String(64), nullable=False),
    _ts("starts_at", nullable=False),
    _ts("ends_at", nullable=False),
    _ts("computed_at", nullable=False),  # bookkeeping only (wall clock)
)

funnel_weekly = Table(
    "funnel_weekly",
    metadata,
    Column("week_start", Date, primary_key=True),
    Column("dimension", String(20), primary_key=True),
    Column("value", String(255), primary_key=True),
    _count("new_leads"),
    _count("mql"),
    _count("sql"),
    _count("opportunity"),
    _count("customer"),
    _count("recycled"),
    _count("disqualified"),
    _count("accepted", nullable=True),  # handoffs accepted/rejected in the week (sales_queue_history)
    _count("rejected", nullable=True),
    Column("won_revenue", Money, nullable=True),  # opportunities closed won in the week
    CheckConstraint(_in("dimension", METRIC_DIMENSIONS), name="dimension"),
)

funnel_cohorts = Table(
    # For the report of week_start: each of the 12 cohort weeks up to it, as of that week's end.
    "funnel_cohorts",
    metadata,
    Column("week_start", Date, primary_key=True),
    Column("cohort_week_start", Date, primary_key=True),
    Column("dimension", String(20), primary_key=True),
    Column("value", String(255), primary_key=True),
    _count("leads"),
    _count("mql"),
    _count("sql"),
    _count("customer"),
    CheckConstraint(_in("dimension", METRIC_DIMENSIONS), name="dimension"),
)

funnel_velocity = Table(
    "funnel_velocity",
    metadata,
    Column("week_start", Date, primary_key=True),
    Column("transition", String(30), primary_key=True),
    _count("leads"),
    Column("median_days", Float, nullable=True),  # NULL when no lead made the transition
    Column("p90_days", Float, nullable=True),
    CheckConstraint(_in("transition", VELOCITY_TRANSITIONS), name="transition"),
)

email_weekly = Table(
    "email_weekly",
    metadata,
    Column("week_start", Date, primary_key=True),
    Column("campaign", String(255), primary_key=True),  # email_sends.campaign_id, or (none)
    _count("sent"),
    _count("delivered"),
    _count("bounced"),
    _count("unique_opens"),
    _count("unique_clicks"),
    _count("unsubscribes"),
    _count("spam_reports"),
)

attribution_weekly = Table(
    "attribution_weekly",
    metadata,
    Column("week_start", Date, primary_key=True),
    Column("model", String(20), primary_key=True),
    Column("conversion", String(20), primary_key=True),
    Column("channel", String(40), primary_key=True),
    Column("campaign", String(255), primary_key=True),
    Column("credit", Float, nullable=False),
    Column("revenue_credit", Money, nullable=True),  # credit x the conversion's won amount
    CheckConstraint(_in("model", ATTRIBUTION_MODELS), name="model"),
    CheckConstraint(_in("conversion", ATTRIBUTION_CONVERSIONS), name="conversion"),
)

# From the webinar and sales tables (include/sql/metrics/<table>.sql; README "Funnel metrics").
webinar_weekly = Table(
    "webinar_weekly",
    metadata,
    Column("week_start", Date, primary_key=True),
    Column("webinar_id", String(120), primary_key=True),
    Column("webinar_name", String(255)),
    _count("invited"),
    _count("registered"),
    _count("waitlisted"),
    _count("attended"),
    _count("no_show"),
)

sla_weekly = Table(
    "sla_weekly",
    metadata,
    Column("week_start", Date, primary_key=True),
    Column("team", String(120), primary_key=True),
    Column("rep_id", String(60), primary_key=True),  # reps.id; '(none)' for items nobody was assigned
    _count("items_due"),
    _count("met"),
    _count("breached"),
    Column("median_business_hours_to_first_action", Float, nullable=True),
)

sla_rejections_weekly = Table(
    # Sales' rejected handoffs per reason and per origin of the lead (same dimensions as funnel_weekly).
    "sla_rejections_weekly",
    metadata,
    Column("week_start", Date, primary_key=True),
    Column("reason", String(120), primary_key=True),
    Column("dimension", String(20), primary_key=True),
    Column("value", String(255), primary_key=True),
    _count("rejected"),
    CheckConstraint(_in("dimension", METRIC_DIMENSIONS), name="dimension"),
)

retention_weekly = Table(
    "retention_weekly",
    metadata,
    Column("week_start", Date, primary_key=True),
    _count("renewals_due"),
    _count("renewals_won"),
    Column("renewal_rate", Float, nullable=True),
    Column("upsell_revenue", Money, nullable=True),
)

# --- maintained origins and first stage entries (issue 14, migration 0015) ---
# One module writes them: funnelflow.metrics.origins. They always equal a full recomputation
# from touchpoints, lifecycle_history and leads.merged_into_id (include/sql/metrics/
# metrics_lead_origin.sql and metrics_first_stage_entry.sql); triggers of migration 0015 note
# in metrics_lead_changes every lead whose rows change, and each metrics run first refreshes
# those leads.
metrics_lead_origin = Table(
    # One row per counted lead with a touch: its earliest touch (merged leads' included; ties by
    # occurred_at, then id), and that touch's channel, source and campaign ('(none)' if missing).
    "metrics_lead_origin",
    metadata,
    Column("lead_id", BigInteger, primary_key=True, autoincrement=False),
    _ts("first_touch_at", nullable=False),
    Column("touch_id", BigInteger, nullable=False),
    Column("channel", String(40), nullable=False),
    Column("source", String(120), nullable=False),
    Column("campaign", String(255), nullable=False),
    Index("ix_metrics_lead_origin_first_touch_at", "first_touch_at"),
)

metrics_first_stage_entry = Table(
    # Each counted lead's first entry into each lifecycle stage (merged leads' rows included).
    "metrics_first_stage_entry",
    metadata,
    Column("lead_id", BigInteger, primary_key=True, autoincrement=False),
    Column("stage", String(20), primary_key=True),
    _ts("first_at", nullable=False),
    Index("ix_metrics_first_stage_entry_stage_first_at", "stage", "first_at"),
)

metrics_lead_changes = Table(
    # Written only by the triggers of migration 0015 (any writer of touchpoints, lifecycle_history
    # or a lead's merged_into_id, in its own transaction), emptied by funnelflow.metrics.origins.
    # lead_id -1: a table was truncated, everything is rebuilt.
    "metrics_lead_changes",
    metadata,
    # No key: appended by every writer of touchpoints and taken all at once (a key costs writers).
    Column("lead_id", BigInteger, nullable=False),
)

# --- campaigns (issue 11) add tables below, with migration 0009 ---

CAMPAIGN_RUN_STATUSES = ("resolved", "testing", "tested", "sending", "stopped", "done")

campaign_runs = Table(
    # One row per run of a campaign (its slug and the run's as-of time): the state the DAG's tasks share.
    "campaign_runs",
    metadata,
    _id(),
    Column("campaign", String(120), nullable=False),  # the slug: config/campaigns/<slug>.yaml
    Column("run_key", String(40), nullable=False),  # the run's as-of time, as in its message key
    _ts("as_of", nullable=False),
    Column("status", String(20), nullable=False),
    Column("audience", Integer, nullable=False),  # people in the segment when resolved
    Column("sendable", Integer, nullable=False),  # of those, whom the sending layer would send to
    Column("winner", String(8)),  # the A/B subject that went to the remainder
    Column("decision", Json),  # why that winner: reason and each variant's rate
    _ts("resolved_at", nullable=False),
    _ts("decided_at"),
    _ts("stop_requested_at"),  # `campaigns stop`: the send stops between chunks
    _ts("finished_at"),
    UniqueConstraint("campaign", "run_key"),
    CheckConstraint(_in("status", CAMPAIGN_RUN_STATUSES), name="status"),
)

campaign_audiences = Table(
    # The resolved audience of a run, stored so a retry sends to exactly the same people.
    "campaign_audiences",
    metadata,
    Column("run_id", BigInteger, ForeignKey("campaign_runs.id", ondelete="CASCADE"), primary_key=True),
    # No foreign key on purpose: a snapshot of whom the run picked, which a later merge must not re-point.
    Column("lead_id", BigInteger, primary_key=True),
    Column("cell", String(8)),  # the A/B test cell (a, b); null: the remainder
)

campaign_offers = Table(
    # One counter per campaign offer; the check constraint is the database holding the limit.
    "campaign_offers",
    metadata,
    Column("campaign", String(120), primary_key=True),
    Column("claim_limit", Integer, nullable=False),
    Column("claims", Integer, nullable=False, default=0, server_default="0"),
    CheckConstraint("claims >= 0 and claims <= claim_limit", name="claims_within_limit"),
)

# --- sales handoff (issue 13) adds tables below, with migration 0010 ---

QUEUE_KINDS = ("handoff", "call_back", "check_in", "renewal", "upsell")
QUEUE_STATUSES = ("open", "accepted", "rejected", "won", "lost", "closed", "unassigned")
REJECT_REASONS = ("not_a_fit", "no_budget", "bad_contact_data", "duplicate", "competitor", "other")
OPPORTUNITY_KINDS = ("new", "renewal", "upsell")
OPPORTUNITY_STAGES = ("open", "won", "lost")

reps = Table(
    # One row per rep of config/sales_team.yaml (id = the slug there),
    # kept in step with the file on every run.
    "reps",
    metadata,
    Column("id", String(60), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("email", String(320), nullable=False),
    Column("team", String(60), nullable=False),
    Column("manager_id", String(60)),
    Column("timezone", String(60), nullable=False),
    Column("calendar", String(20)),
    Column("capacity", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("in_team_file", Boolean, nullable=False),  # false: removed from the file (kept for history)
    Column("profile", Json),  # countries, segments, industries, out_of_office as in the file
    _ts("synced_at", nullable=False),
)

sales_queue = Table(
    # The sales queue: one row per thing a rep must do (owned by funnelflow.sales.queue).
    "sales_queue",
    metadata,
    _id(),
    Column("lead_id", BigInteger, ForeignKey("leads.id", ondelete="CASCADE"), nullable=False, index=True),
    # Why the item exists, once: "sql:<lead>:<lifecycle_history id>", "check_in:<opportunity>:30", ...
    Column("entry_key", String(120), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("priority", Integer, nullable=False, default=0, server_default="0"),
    Column("rep_id", String(60), ForeignKey("reps.id", ondelete="SET NULL"), nullable=True),
    Column("routing_reason", String(255)),  # the routing step that decided, or why nobody could take it
    Column("fit_grade", String(1)),
    _ts("entered_at", nullable=False),  # when the lead became SQL (or the item was created)
    _ts("assigned_at"),
    _ts("due_at"),
    _ts("remind_at"),  # half the SLA left
    _ts("reassign_at"),  # due_at + reassign_after_business_hours
    _ts("first_action_at"),
    _ts("reminded_at"),
    _ts("escalated_at"),
    _ts("closed_at"),
    Column("outcome_reason", String(60)),
    Column("sla_outcome", String(10)),  # met, breached
    Column("crm_status", String(20)),  # pushed, failed (4xx, see crm_error), null: not yet
    Column("crm_error", Text),
    Column("crm_external_id", String(120)),
    _ts("created_at", nullable=False, default=utcnow),
    CheckConstraint(_in("kind", QUEUE_KINDS), name="kind"),
    CheckConstraint(_in("status", QUEUE_STATUSES), name="status"),
    CheckConstraint("sla_outcome is null or sla_outcome in ('met', 'breached')", name="sla_outcome"),
    Index("ix_sales_queue_rep_id_status", "rep_id", "status"),
    Index("ix_sales_queue_status_due_at", "status", "due_at"),
)

sales_queue_history = Table(
    # Append-only: every change of a queue item, who made it and when.
    "sales_queue_history",
    metadata,
    _id(),
    Column(
        "item_id", BigInteger, ForeignKey("sales_queue.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    _ts("at", nullable=False),
    Column("actor", String(120), nullable=False),  # "routing", "sla", "rep:<id>", "crm", ...
    Column("action", String(40), nullable=False),  # queued, assigned, unassigned, reminded, escalated, ...
    Column("from_status", String(20)),
    Column("to_status", String(20)),
    Column("rep_id", String(60)),
    Column("detail", Json),
    Column("run_id", String(250)),
)

opportunities = Table(
    # Deals as the CRM reports them (created and updated by crm_sync); the lead's stage follows the stage.
    "opportunities",
    metadata,
    _id(),
    Column("external_id", String(120), nullable=False, unique=True),
    Column("lead_id", BigInteger, ForeignKey("leads.id", ondelete="SET NULL"), nullable=True, index=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True),
    Column("rep_id", String(60), ForeignKey("reps.id", ondelete="SET NULL"), nullable=True),
    Column("amount", Numeric(14, 2)),
    Column("currency", String(3)),
    Column("kind", String(20), nullable=False),
    Column("stage", String(20), nullable=False),
    _ts("created_at", nullable=False),
    _ts("closed_at"),
    Column("renewal_date", Date),
    _ts("crm_updated_at"),
    _ts("synced_at", nullable=False),
    CheckConstraint(_in("kind", OPPORTUNITY_KINDS), name="kind"),
    CheckConstraint(_in("stage", OPPORTUNITY_STAGES), name="stage"),
)


# --- webinars (issue 12, migration 0013) ---

WEBINAR_STATUSES = ("scheduled", "cancelled")
REGISTRATION_STATUSES = ("registered", "waitlisted", "cancelled", "attended", "no_show")

webinars = Table(
    # One row per config/webinars/<slug>.yaml, kept in step with the file on every run.
    "webinars",
    metadata,
    _id(),
    Column("slug", String(120), nullable=False, unique=True),
    Column("title", String(255), nullable=False),
    _ts("starts_at", nullable=False),  # UTC, from the file's local time and IANA zone
    _ts("ends_at", nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("capacity", Integer, nullable=False),
    # Seats held by registered (and attended) people. The database enforces the capacity: a seat is
    # taken by one conditional update, and this check refuses any write that would overbook.
    Column("seats_taken", Integer, nullable=False, default=0, server_default="0"),
    Column("status", String(20), nullable=False, default="scheduled", server_default="scheduled"),
    Column("sequence", Integer, nullable=False, default=0, server_default="0"),  # iCalendar SEQUENCE
    Column(
        "schedule_hash", String(64), nullable=False
    ),  # of start, end, zone and status: a change bumps sequence
    Column("join_url", Text, nullable=False),
    Column("recording_url", Text),
    Column("host", String(255)),
    _ts("attendance_loaded_at"),  # when the first attendee report arrived: no-shows are marked then
    _ts("created_at", nullable=False, default=utcnow),
    _ts("updated_at", nullable=False, default=utcnow, onupdate=utcnow),
    CheckConstraint(_in("status", WEBINAR_STATUSES), name="status"),
    CheckConstraint("seats_taken >= 0 and seats_taken <= capacity", name="seats"),
)

webinar_registrations = Table(
    # At most one per person and webinar; status moves registered/waitlisted -> attended/no_show/cancelled.
    "webinar_registrations",
    metadata,
    _id(),
    Column("webinar_id", BigInteger, ForeignKey("webinars.id", ondelete="CASCADE"), nullable=False),
    Column("lead_id", BigInteger, ForeignKey("leads.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("source", String(40), nullable=False),  # form, invitation (one-click), attendance, api
    Column("holds_seat", Boolean, nullable=False, default=False, server_default="0"),
    _ts("registered_at", nullable=False),  # arrival order: the waitlist is served by (registered_at, id)
    _ts("promoted_at"),
    _ts("cancelled_at"),
    Column("minutes_attended", Integer),
    _ts("first_joined_at"),
    _ts("updated_at", nullable=False, default=utcnow, onupdate=utcnow),
    UniqueConstraint("webinar_id", "lead_id"),
    CheckConstraint(_in("status", REGISTRATION_STATUSES), name="status"),
    Index("ix_webinar_registrations_waitlist", "webinar_id", "status", "registered_at"),
)
