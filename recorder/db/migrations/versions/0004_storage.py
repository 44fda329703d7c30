"""stored recordings (region-pinned blob storage)

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_recordings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=36), nullable=False),
        sa.Column("server_call_id", sa.String(length=1024), nullable=False),
        sa.Column("recording_id", sa.String(length=512), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.String(length=256), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("account_url", sa.String(length=512), nullable=False),
        sa.Column("container", sa.String(length=63), nullable=False),
        sa.Column("blob_name", sa.String(length=1024), nullable=False),
        sa.Column("metadata_blob", sa.String(length=1024), nullable=False),
        sa.Column("blob_url", sa.String(length=2048), nullable=True),
        sa.Column("content_location", sa.Text(), nullable=False),
        sa.Column("metadata_location", sa.Text(), nullable=True),
        sa.Column("delete_location", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("staged_bytes", sa.BigInteger(), nullable=False),
        sa.Column("acs_deleted", sa.Boolean(), nullable=False),
        sa.Column("legal_hold", sa.String(length=16), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("event_id", sa.String(length=256), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_stored_recordings_call_id_calls")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_recordings")),
        sa.UniqueConstraint(
            "recording_id", "chunk_index", name="uq_stored_recordings_recording_id_chunk_index"
        ),
    )
    with op.batch_alter_table("stored_recordings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stored_recordings_call_id"), ["call_id"], unique=False)
        batch_op.create_index("ix_stored_recordings_work", ["state", "available_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stored_recordings", schema=None) as batch_op:
        batch_op.drop_index("ix_stored_recordings_work")
        batch_op.drop_index(batch_op.f("ix_stored_recordings_call_id"))
    op.drop_table("stored_recordings")
