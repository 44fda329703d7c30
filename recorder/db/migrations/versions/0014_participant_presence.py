"""when each participant came and went by ACS's time, written by triggers on participants: the evidence for
unconsented exposure (recording reported active while someone present had not consented)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# The call row is flushed before its participants (they reference it), so participants_at is already the
# time of the list that caused this change; when the call ended, everyone left at its end (participants_at
# is then the last list's time). Calls from before this migration have no presence history.
LOG = """INSERT INTO participant_presence (participant_id, present, at)
    SELECT NEW.id, NEW.present,
        CASE WHEN NOT NEW.present AND c.ended_at IS NOT NULL THEN c.ended_at
        ELSE COALESCE(c.participants_at, c.updated_at) END
    FROM calls c WHERE c.id = NEW.call_id"""

SQLITE = [
    f"CREATE TRIGGER participants_presence_insert AFTER INSERT ON participants BEGIN {LOG}; END",
    "CREATE TRIGGER participants_presence_update AFTER UPDATE OF present ON participants "
    f"WHEN NEW.present IS NOT OLD.present BEGIN {LOG}; END",
]
POSTGRES = [
    f"""CREATE FUNCTION participants_presence_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.present IS DISTINCT FROM OLD.present THEN
        {LOG};
    END IF;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER participants_presence AFTER INSERT OR UPDATE OF present ON participants "
    "FOR EACH ROW EXECUTE FUNCTION participants_presence_log()",
]


def upgrade() -> None:
    op.create_table(
        "participant_presence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_participant_presence_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participant_presence")),
    )
    op.create_index(
        op.f("ix_participant_presence_participant_id"), "participant_presence", ["participant_id"]
    )
    for statement in POSTGRES if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS participants_presence ON participants")
        op.execute("DROP FUNCTION IF EXISTS participants_presence_log()")
    else:
        op.execute("DROP TRIGGER IF EXISTS participants_presence_insert")
        op.execute("DROP TRIGGER IF EXISTS participants_presence_update")
    op.drop_index(op.f("ix_participant_presence_participant_id"), table_name="participant_presence")
    op.drop_table("participant_presence")
