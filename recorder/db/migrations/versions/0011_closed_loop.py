"""closed-loop consent: what ACS reported beside what was commanded, and the call's own identities

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def columns() -> tuple[sa.Column[object], ...]:
    return (
        sa.Column("recording_reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recording_first_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recording_pending", sa.Integer(), server_default="0", nullable=False),
        sa.Column("recording_report_fresh", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("participants_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("participants_unclear", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("own_identities", sa.JSON(), nullable=True),
        # calls live before this revision prompted without knowing their identities: they keep doing so
        sa.Column("identities_known", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("media_turn_at", sa.DateTime(timezone=True), nullable=True),
    )


def outbox_columns() -> tuple[sa.Column[object], ...]:
    return (
        sa.Column("first_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("in_doubt", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        for column in columns():
            batch.add_column(column)
    with op.batch_alter_table("outbox") as batch:
        for column in outbox_columns():
            batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        for column in reversed(outbox_columns()):
            batch.drop_column(column.name)
    with op.batch_alter_table("calls") as batch:
        for column in reversed(columns()):
            batch.drop_column(column.name)
