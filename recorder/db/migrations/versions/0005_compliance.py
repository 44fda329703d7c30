"""compliance: append-only audit_log, legal holds, erasure tombstones, search indexes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

audit_log refuses DELETE (and TRUNCATE on PostgreSQL) and every UPDATE except one: an erasure may replace an
entry's ``data`` with a tombstone (``{"erased": true, ...}``) while seq, time, actor, action, call id and both
hashes stay as they were. ``recorder audit verify`` accepts a tombstone only when a later, hash-checked
``participant.erased`` entry lists that seq with that hash, so the exception cannot hide tampering.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SAME_ROW_SQLITE = (
    "NEW.seq = OLD.seq AND NEW.at = OLD.at AND NEW.actor = OLD.actor AND NEW.action = OLD.action"
    " AND NEW.call_id IS OLD.call_id AND NEW.prev_hash = OLD.prev_hash AND NEW.hash = OLD.hash"
    " AND coalesce(json_extract(OLD.data, '$.erased'), 0) != 1"
    " AND coalesce(json_extract(NEW.data, '$.erased'), 0) = 1"
)

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        WHEN NOT coalesce(({_SAME_ROW_SQLITE}), 0)
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END""",
]

POSTGRES_TRIGGERS = [
    """CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND NEW.seq = OLD.seq AND NEW.at = OLD.at AND NEW.actor = OLD.actor
           AND NEW.action = OLD.action AND NEW.call_id IS NOT DISTINCT FROM OLD.call_id
           AND NEW.prev_hash = OLD.prev_hash AND NEW.hash = OLD.hash
           AND coalesce(OLD.data->>'erased', '') <> 'true' AND NEW.data->>'erased' = 'true' THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'P0001';
    END $$""",
    """CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""",
    """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.String(length=512), nullable=False),
        sa.Column("set_by", sa.String(length=128), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_by", sa.String(length=128), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("release_reason", sa.String(length=512), nullable=True),
        sa.Column("blob_hold", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_legal_holds_call_id_calls")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    op.create_index(op.f("ix_legal_holds_call_id"), "legal_holds", ["call_id"], unique=False)
    op.create_table(
        "erasure_tombstones",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_sha256", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("audit_seq", sa.Integer(), nullable=False),
        sa.Column("ledger_rows", sa.JSON(), nullable=False),
        sa.Column("audit_entries", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_tombstones")),
    )
    op.create_index(
        op.f("ix_erasure_tombstones_subject_sha256"), "erasure_tombstones", ["subject_sha256"], unique=False
    )
    op.create_index("ix_participants_raw_id", "participants", ["raw_id"], unique=False)
    for statement in POSTGRES_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update_delete ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    op.drop_index("ix_participants_raw_id", table_name="participants")
    op.drop_index(op.f("ix_erasure_tombstones_subject_sha256"), table_name="erasure_tombstones")
    op.drop_table("erasure_tombstones")
    op.drop_index(op.f("ix_legal_holds_call_id"), table_name="legal_holds")
    op.drop_table("legal_holds")
