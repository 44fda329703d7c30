"""Reads and writes of the agent identities table, each user id within its owner's namespace (the API key
that asked). Like the other repositories, it never commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from recorder.db.tables.identities import AgentIdentity


def identity_for(session: Session, owner: str, user_id: str) -> str | None:
    return session.scalar(
        select(AgentIdentity.acs_identity).where(
            AgentIdentity.owner == owner, AgentIdentity.user_id == user_id
        )
    )


def user_for(session: Session, acs_identity: str) -> str | None:
    return session.scalar(select(AgentIdentity.user_id).where(AgentIdentity.acs_identity == acs_identity))


def add_if_absent(session: Session, owner: str, user_id: str, acs_identity: str, now: datetime) -> bool:
    """Insert-or-ignore on (owner, user id) and on the identity; True only if this call inserted the row."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(AgentIdentity)
        .values(owner=owner, user_id=user_id, acs_identity=acs_identity, created_at=now, last_issued_at=None)
        .on_conflict_do_nothing()
        .returning(AgentIdentity.user_id)
    )
    return session.execute(statement).first() is not None


def mark_issued(session: Session, owner: str, user_id: str, now: datetime) -> None:
    session.execute(
        update(AgentIdentity)
        .where(AgentIdentity.owner == owner, AgentIdentity.user_id == user_id)
        .values(last_issued_at=now)
    )
