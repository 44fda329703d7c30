"""Reads and writes of the agent identities table. Like the other repositories, it never commits."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from recorder.db.identity_tables import AgentIdentity

MAX_LOOKUP = 500  # raw ids per IN (...) query


def identity_for(session: Session, user_id: str) -> str | None:
    return session.scalar(select(AgentIdentity.acs_identity).where(AgentIdentity.user_id == user_id))


def user_for(session: Session, acs_identity: str) -> str | None:
    return session.scalar(select(AgentIdentity.user_id).where(AgentIdentity.acs_identity == acs_identity))


def add_if_absent(session: Session, user_id: str, acs_identity: str, now: datetime) -> bool:
    """Insert-or-ignore on the unique user id (and identity); True only if this call inserted the row."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(AgentIdentity)
        .values(user_id=user_id, acs_identity=acs_identity, created_at=now, last_issued_at=None)
        .on_conflict_do_nothing()
        .returning(AgentIdentity.user_id)
    )
    return session.execute(statement).first() is not None


def mark_issued(session: Session, user_id: str, now: datetime) -> None:
    session.execute(update(AgentIdentity).where(AgentIdentity.user_id == user_id).values(last_issued_at=now))


def known_agents(session: Session, raw_ids: Iterable[str]) -> set[str]:
    """Which of ``raw_ids`` are identities this service created for its agents."""
    candidates = sorted({raw_id for raw_id in raw_ids if raw_id.startswith("8:")})
    found: set[str] = set()
    for start in range(0, len(candidates), MAX_LOOKUP):
        batch = candidates[start : start + MAX_LOOKUP]
        found.update(
            session.scalars(select(AgentIdentity.acs_identity).where(AgentIdentity.acs_identity.in_(batch)))
        )
    return found
