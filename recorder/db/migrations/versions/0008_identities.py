"""agent identities: the application's user id -> its ACS identity

Revision ID: 0008
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_identities",
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("acs_identity", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_agent_identities")),
        sa.UniqueConstraint("acs_identity", name=op.f("uq_agent_identities_acs_identity")),
    )


def downgrade() -> None:
    op.drop_table("agent_identities")
