"""API keys and console sessions: the credentials this service hands out, stored as hashes. Never commits."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from recorder.db.tables.access import ApiKey, ConsoleSession


class KeyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self, name: str, role: str, key_hash: str, prefix: str, now: datetime, ttl: timedelta | None
    ) -> str:
        """A new key's row, expiring ``ttl`` after ``now`` (never: None); returns its id."""
        row = ApiKey(
            id=str(uuid.uuid4()),
            name=name,
            role=role,
            key_hash=key_hash,
            prefix=prefix,
            created_at=now,
            expires_at=now + ttl if ttl else None,
        )
        self.session.add(row)
        return row.id

    def by_hash(self, key_hash: str) -> ApiKey | None:
        return self.session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))

    def get(self, key_id: str) -> ApiKey | None:
        return self.session.get(ApiKey, key_id)

    def all(self) -> list[ApiKey]:
        """Every key, oldest first."""
        return list(self.session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))

    def revoke(self, key_id: str, now: datetime) -> bool:
        """False if there is no such key; revoking twice keeps the first time."""
        row = self.session.get(ApiKey, key_id)
        if row is None:
            return False
        if row.revoked_at is None:
            row.revoked_at = now
        self.session.flush()
        return True


class ConsoleSessionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def open(self, digest: str, key_id: str, now: datetime, expires_at: datetime) -> None:
        row = ConsoleSession(
            id=digest, key_id=key_id, created_at=now, last_seen_at=now, expires_at=expires_at
        )
        self.session.add(row)

    def get(self, digest: str) -> ConsoleSession | None:
        return self.session.get(ConsoleSession, digest)

    def key(self, key_id: str) -> ApiKey | None:
        return self.session.get(ApiKey, key_id)

    def touch(self, digest: str, now: datetime) -> None:
        self.session.execute(
            update(ConsoleSession).where(ConsoleSession.id == digest).values(last_seen_at=now)
        )

    def end(self, digest: str, now: datetime) -> None:
        self.session.execute(
            update(ConsoleSession)
            .where(ConsoleSession.id == digest, ConsoleSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
