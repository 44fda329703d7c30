"""Reads and writes of the agent identities table, each user id within its owner's namespace (the API key
that asked). Like the other repositories, it never commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from recorder.db.tables.identities import AgentIdentity


class IdentityRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def identity_for(self, owner: str, user_id: str) -> str | None:
        return self.session.scalar(
            select(AgentIdentity.acs_identity).where(
                AgentIdentity.owner == owner, AgentIdentity.user_id == user_id
            )
        )

    def user_for(self, acs_identity: str) -> str | None:
        query = select(AgentIdentity.user_id).where(AgentIdentity.acs_identity == acs_identity)
        return self.session.scalar(query)

    def add_if_absent(self, owner: str, user_id: str, acs_identity: str, now: datetime) -> bool:
        """Insert-or-ignore on (owner, user id) and on the identity; True only if this call inserted it."""
        insert = pg_insert if self.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = (
            insert(AgentIdentity)
            .values(
                owner=owner, user_id=user_id, acs_identity=acs_identity, created_at=now, last_issued_at=None
            )
            .on_conflict_do_nothing()
            .returning(AgentIdentity.user_id)
        )
        return self.session.execute(statement).first() is not None

    def mark_issued(self, owner: str, user_id: str, now: datetime) -> None:
        self.session.execute(
            update(AgentIdentity)
            .where(AgentIdentity.owner == owner, AgentIdentity.user_id == user_id)
            .values(last_issued_at=now)
        )
