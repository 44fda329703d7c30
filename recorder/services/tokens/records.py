"""What the token services need from their unit of work: API keys, console sessions, agents' ACS identities,
and the audit trail. ``db/repositories/access.py`` and ``identities.py`` implement it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from recorder.services.calls.ports import Audit, UnitOfWork


class KeyRow(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def prefix(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...

    @property
    def expires_at(self) -> datetime | None: ...

    @property
    def revoked_at(self) -> datetime | None: ...


class SessionRow(Protocol):
    @property
    def key_id(self) -> str: ...

    @property
    def last_seen_at(self) -> datetime: ...

    @property
    def expires_at(self) -> datetime: ...

    @property
    def revoked_at(self) -> datetime | None: ...


class Keys(Protocol):
    def by_hash(self, key_hash: str) -> KeyRow | None: ...

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
    """``create`` writes through the session (``api_keys.create_key``, shared with the CLI)."""

    @property
    def session(self) -> Any: ...

    @property
    def keys(self) -> Keys: ...

    @property
    def audit(self) -> Audit: ...


class SessionsUnitOfWork(UnitOfWork, Protocol):
    @property
    def console_sessions(self) -> ConsoleSessionRecords: ...
