"""metrics: maintained lead origins and first stage entries, with the triggers that note changes

``metrics_lead_origin`` (each counted lead's earliest touch: when, channel, source, campaign) and
``metrics_first_stage_entry`` (each counted lead's first entry into each stage) are kept by
``funnelflow.metrics.origins``, so a week's metrics read what the week needs by index instead of
ranking every touchpoint. They start empty; the first metrics run builds them in full.

Triggers note in ``metrics_lead_changes`` the leads whose rows changed, in the transaction of the
change (so a change and its note commit together, whatever the order transactions commit in):
touchpoints and lifecycle_history inserted, deleted, or updated in a column the tables read
(both the old and the new lead); a lead's ``merged_into_id`` set or cleared (the lead, the old
and the new survivor); a lead deleted. A TRUNCATE notes -1 (rebuild everything). On PostgreSQL
the touchpoint and stage triggers are per statement, with transition tables (one insert of the
distinct leads per statement); on SQLite they are per row.

Indexes: ``lifecycle_history.changed_at`` (a week reads only its stage changes) and the merged
leads (``leads.merged_into_id`` where set; merge chains are followed through it).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

# ruff: noqa: S608  (the trigger DDL is composed from the constants below, never from input)
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

NOTE = "insert into metrics_lead_changes (lead_id)"

# (table, the columns the maintained tables read besides lead_id)
WATCHED = (
    ("touchpoints", ("id", "occurred_at", "channel", "source", "campaign")),
    ("lifecycle_history", ("to_stage", "changed_at")),
)


def _pg_changed(cols: tuple[str, ...], a: str, b: str) -> str:
    same = " and ".join(
        f"{b}.{c} is not distinct from {a}.{c}" for c in dict.fromkeys(("id", "lead_id", *cols))
    )
    return f"select {a}.lead_id from {a} where not exists (select 1 from {b} where {same})"


def _postgresql_triggers() -> list[str]:
    ddl = []
    for table, cols in WATCHED:
        fn = f"metrics_note_{table}"
        ddl.append(f"""
create function {fn}() returns trigger language plpgsql as $$
begin
    if tg_op = 'INSERT' then
        {NOTE} select distinct lead_id from new_rows;
    elsif tg_op = 'DELETE' then
        {NOTE} select distinct lead_id from old_rows;
    elsif tg_op = 'UPDATE' then  -- rows whose lead or a column read changed: the old and the new lead
        {NOTE} select distinct lead_id from (
            {_pg_changed(cols, "old_rows", "new_rows")}
            union all
            {_pg_changed(cols, "new_rows", "old_rows")}
        ) as changed;
    else  -- TRUNCATE
        {NOTE} values (-1);
    end if;
    return null;
end $$""")
        ddl += [
            f"create trigger {fn}_insert after insert on {table} referencing new table as new_rows "
            f"for each statement execute function {fn}()",
            f"create trigger {fn}_update after update on {table} referencing old table as old_rows "
            f"new table as new_rows for each statement execute function {fn}()",
            f"create trigger {fn}_delete after delete on {table} referencing old table as old_rows "
            f"for each statement execute function {fn}()",
            f"create trigger {fn}_truncate after truncate on {table} "
            f"for each statement execute function {fn}()",
        ]
    ddl.append(f"""
create function metrics_note_leads() returns trigger language plpgsql as $$
begin
    if tg_op = 'TRUNCATE' then
        {NOTE} values (-1);
    elsif tg_op = 'DELETE' then
        {NOTE} values (old.id);
    else  -- merged_into_id set on insert, or changed: the lead, its old and its new survivor
        {NOTE} values (new.id);
        if new.merged_into_id is not null then
            {NOTE} values (new.merged_into_id);
        end if;
        if tg_op = 'UPDATE' and old.merged_into_id is not null then
            {NOTE} values (old.merged_into_id);
        end if;
    end if;
    return null;
end $$""")
    ddl += [
        "create trigger metrics_note_leads_insert after insert on leads for each row "
        "when (new.merged_into_id is not null) execute function metrics_note_leads()",
        "create trigger metrics_note_leads_update after update of merged_into_id on leads for each row "
        "when (old.merged_into_id is distinct from new.merged_into_id) execute function metrics_note_leads()",
        "create trigger metrics_note_leads_delete after delete on leads for each row "
        "execute function metrics_note_leads()",
        "create trigger metrics_note_leads_truncate after truncate on leads for each statement "
        "execute function metrics_note_leads()",
    ]
    return ddl


def _sqlite_triggers() -> list[str]:
    ddl = []
    for table, cols in WATCHED:
        watched = ("lead_id", *cols)
        differs = " or ".join(f"old.{c} is not new.{c}" for c in watched)
        ddl += [
            f"create trigger metrics_note_{table}_insert after insert on {table} "
            f"begin {NOTE} values (new.lead_id); end",
            f"create trigger metrics_note_{table}_update after update of {', '.join(watched)} on {table} "
            f"when {differs} begin {NOTE} values (old.lead_id); {NOTE} values (new.lead_id); end",
            f"create trigger metrics_note_{table}_delete after delete on {table} "
            f"begin {NOTE} values (old.lead_id); end",
        ]
    ddl += [
        "create trigger metrics_note_leads_insert after insert on leads when new.merged_into_id is not null "
        f"begin {NOTE} values (new.id); {NOTE} values (new.merged_into_id); end",
        "create trigger metrics_note_leads_update after update of merged_into_id on leads "
        "when old.merged_into_id is not new.merged_into_id "
        f"begin {NOTE} values (new.id); "
        f"{NOTE} select new.merged_into_id where new.merged_into_id is not null; "
        f"{NOTE} select old.merged_into_id where old.merged_into_id is not null; end",
        f"create trigger metrics_note_leads_delete after delete on leads begin {NOTE} values (old.id); end",
    ]
    return ddl


def _trigger_names() -> list[tuple[str, str]]:
    names = []
    for table, _ in (*WATCHED, ("leads", ())):
        for event in ("insert", "update", "delete", "truncate"):
            names.append((table, f"metrics_note_{table}_{event}"))
    return names


def upgrade() -> None:
    op.create_table(
        "metrics_lead_origin",
        sa.Column("lead_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("first_touch_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("touch_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("campaign", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_metrics_lead_origin")),
    )
    op.create_index("ix_metrics_lead_origin_first_touch_at", "metrics_lead_origin", ["first_touch_at"])
    op.create_table(
        "metrics_first_stage_entry",
        sa.Column("lead_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", "stage", name=op.f("pk_metrics_first_stage_entry")),
    )
    op.create_index(
        "ix_metrics_first_stage_entry_stage_first_at", "metrics_first_stage_entry", ["stage", "first_at"]
    )
    op.create_table(
        "metrics_lead_changes",
        # No key: notes are only appended (by every writer of touchpoints, so cheap matters) and
        # taken all at once; a key and its sequence cost writers about 0.6 s per million notes.
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_lifecycle_history_changed_at", "lifecycle_history", ["changed_at"])
    op.create_index(
        "ix_leads_merged_into_id",
        "leads",
        ["merged_into_id"],
        postgresql_where=sa.text("merged_into_id IS NOT NULL"),
        sqlite_where=sa.text("merged_into_id IS NOT NULL"),
    )
    dialect = op.get_bind().dialect.name
    for statement in _postgresql_triggers() if dialect == "postgresql" else _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, name in _trigger_names():
        if dialect == "postgresql":
            op.execute(f"drop trigger if exists {name} on {table}")
        else:
            op.execute(f"drop trigger if exists {name}")
    if dialect == "postgresql":
        for table in ("touchpoints", "lifecycle_history", "leads"):
            op.execute(f"drop function if exists metrics_note_{table}()")
    op.drop_index("ix_leads_merged_into_id", table_name="leads")
    op.drop_index("ix_lifecycle_history_changed_at", table_name="lifecycle_history")
    op.drop_table("metrics_lead_changes")
    op.drop_index("ix_metrics_first_stage_entry_stage_first_at", table_name="metrics_first_stage_entry")
    op.drop_table("metrics_first_stage_entry")
    op.drop_index("ix_metrics_lead_origin_first_touch_at", table_name="metrics_lead_origin")
    op.drop_table("metrics_lead_origin")
