"""security round two: call grants, registered agent exemptions, console sessions, per-key agent user ids

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29

Existing agent identities are given to the API key that created them (its actor, ``key:<id>``), as the
audit chain's ``tokens.issued`` entries say; an identity with no such entry goes to the owner ``legacy``
(no key reaches it; the next request for that user id makes a new identity). No exemption is carried over:
an admin registers the agents (``recorder agents exempt``), since an issued token exempts nobody any more.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

LEGACY_OWNER = "legacy"


def upgrade() -> None:
    op.create_table(
        "call_grants",
        sa.Column("call_id", sa.String(length=36), nullable=False),
        sa.Column("key_id", sa.String(length=160), nullable=False),
        sa.Column("granted_by", sa.String(length=164), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_call_grants_call_id_calls")),
        sa.PrimaryKeyConstraint("call_id", "key_id", name=op.f("pk_call_grants")),
    )
    op.create_table(
        "agent_exemptions",
        sa.Column("identity", sa.String(length=256), nullable=False),
        sa.Column("reason", sa.String(length=128), nullable=False),
        sa.Column("registered_by", sa.String(length=164), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("identity", name=op.f("pk_agent_exemptions")),
    )
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_console_sessions_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
    )
    op.create_index(op.f("ix_console_sessions_key_id"), "console_sessions", ["key_id"], unique=False)
    with op.batch_alter_table("recording_requests") as batch:
        batch.alter_column("key_id", existing_type=sa.String(length=36), type_=sa.String(length=160))
    _namespace_agent_identities()


def _namespace_agent_identities() -> None:
    with op.batch_alter_table("agent_identities") as batch:
        batch.add_column(
            sa.Column("owner", sa.String(length=168), nullable=False, server_default=LEGACY_OWNER)
        )
        batch.drop_constraint("pk_agent_identities", type_="primary")
        batch.create_primary_key("pk_agent_identities", ["owner", "user_id"])
    bind = op.get_bind()
    for identity, owner in _creators(bind).items():
        bind.execute(
            sa.text("UPDATE agent_identities SET owner = :owner WHERE acs_identity = :identity"),
            {"owner": owner, "identity": identity},
        )
    with op.batch_alter_table("agent_identities") as batch:
        batch.alter_column("owner", existing_type=sa.String(length=168), server_default=None)


def _creators(bind: Any) -> dict[str, str]:
    """identity -> the actor (``key:<id>``) of the first ``tokens.issued`` entry naming it."""
    creators: dict[str, str] = {}
    for table, order in (("audit_log", "seq"), ("audit_pending", "id")):
        rows = bind.execute(
            sa.text(f"SELECT actor, data FROM {table} WHERE action = 'tokens.issued' ORDER BY {order}")  # noqa: S608
        )
        for actor, data in rows:
            entry = json.loads(data) if isinstance(data, str) else data
            identity = entry.get("identity") if isinstance(entry, dict) else None
            if isinstance(identity, str) and isinstance(actor, str) and actor.startswith("key:"):
                creators.setdefault(identity, actor)
    return creators


def downgrade() -> None:
    bind = op.get_bind()
    bind.execute(  # one identity per user id again: keep each user id's oldest
        sa.text(
            "DELETE FROM agent_identities WHERE EXISTS (SELECT 1 FROM agent_identities AS older"
            " WHERE older.user_id = agent_identities.user_id"
            " AND (older.created_at < agent_identities.created_at OR"
            " (older.created_at = agent_identities.created_at AND older.owner < agent_identities.owner)))"
        )
    )
    with op.batch_alter_table("agent_identities") as batch:
        batch.drop_constraint("pk_agent_identities", type_="primary")
        batch.create_primary_key("pk_agent_identities", ["user_id"])
        batch.drop_column("owner")
    with op.batch_alter_table("recording_requests") as batch:
        batch.alter_column("key_id", existing_type=sa.String(length=160), type_=sa.String(length=36))
    op.drop_index(op.f("ix_console_sessions_key_id"), table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_table("agent_exemptions")
    op.drop_table("call_grants")
