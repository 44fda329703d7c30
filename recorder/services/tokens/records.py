"""What the token services need from their unit of work: API keys, console sessions, agents' ACS identities,
and the audit trail. ``db/repositories/access.py`` and ``identities.py`` implement it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from recorder.services.calls.ports import Audit, UnitOfWork


class KeyRow(Protocol):
    id: str
    name: str
    role: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class SessionRow(Protocol):
    key_id: str
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class Keys(Protocol):
    def add(
        self, name: str, role: str, key_hash: str, prefix: str, now: datetime, ttl: timedelta | None
    ) -> str:
        """A new key, expiring ``ttl`` after ``now`` (never: None); returns its id."""
        ...

    def by_hash(self, key_hash: str) -> KeyRow | None: ...

    def all(self) -> Sequence[KeyRow]:
        """Every key, oldest first."""
        ...

    def revoke(self, key_id: str, now: datetime) -> bool: ...


class ConsoleSessionRecords(Protocol):
    def open(self, digest: str, key_id: str, now: datetime, expires_at: datetime) -> None: ...

    def get(self, digest: str) -> SessionRow | None: ...

    def key(self, key_id: str) -> KeyRow | None: ...

    def touch(self, digest: str, now: datetime) -> None: ...

    def end(self, digest: str, now: datetime) -> None: ...


class Identities(Protocol):
    def identity_for(self, owner: str, user_id: str) -> str | None: ...

    def user_for(self, acs_identity: str) -> str | None: ...

    def add_if_absent(self, owner: str, user_id: str, acs_identity: str, now: datetime) -> bool: ...

    def mark_issued(self, owner: str, user_id: str, now: datetime) -> None: ...


class TokensUnitOfWork(UnitOfWork, Protocol):
    @property
    def identities(self) -> Identities: ...

    @property
    def audit(self) -> Audit: ...


class KeysUnitOfWork(UnitOfWork, Protocol):
    @property
    def keys(self) -> Keys: ...

    @property
    def audit(self) -> Audit: ...


class SessionsUnitOfWork(UnitOfWork, Protocol):
    @property
    def console_sessions(self) -> ConsoleSessionRecords: ...
