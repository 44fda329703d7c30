"""API keys for the compliance API: random, shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from recorder.services.errors import NotFound
from recorder.services.tokens.records import KeyRow, Keys, KeysUnitOfWork
from recorder.services.views import fields


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    SERVICE = "service"


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    role: Role


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    keys: Keys, role: Role, name: str, now: datetime, ttl: timedelta | None = None
) -> tuple[str, str]:
    """Returns (key id, the key itself); only the hash is kept. Also the CLI's, the demo's and the tests'."""
    prefix = secrets.token_hex(4)
    key = f"rk_{prefix}_{secrets.token_urlsafe(32)}"
    return keys.add(name, role, hash_key(key), prefix, now, ttl), key


def authenticate(keys: Keys, key: str, now: datetime) -> Principal | None:
    row = keys.by_hash(hash_key(key))
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    return Principal(row.id, row.name, Role(row.role))


def key_state(row: KeyRow, now: datetime) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"


def list_keys(keys: Keys, now: datetime) -> list[dict[str, str | None]]:
    """Every key's metadata (never its hash), oldest first: the CLI's, and the web's audited read
    (``queries.registers.api_keys``)."""
    return [
        {
            **fields(r, "id", "name", "role", "prefix"),
            "state": key_state(r, now),
            **fields(r, "created_at", "expires_at", "revoked_at"),
        }
        for r in keys.all()
    ]


class ApiKeys:
    """API keys as the web uses them: authenticate a bearer key, create and revoke keys (audited)."""

    def __init__(self, unit_of_work: Callable[[], KeysUnitOfWork], clock: Callable[[], datetime]) -> None:
        self._uow, self._clock = unit_of_work, clock

    def authenticate(self, key: str) -> Principal | None:
        with self._uow() as uow:
            return authenticate(uow.keys, key, self._clock())

    def create(self, role: Role, name: str, days: int | None, actor: str) -> tuple[str, str]:
        """Returns (key id, the key itself); the key is shown once."""
        now = self._clock()
        with self._uow() as uow:
            key_id, key = create_key(uow.keys, role, name, now, timedelta(days=days) if days else None)
            data = {"key_id": key_id, "role": role, "name": name, "expires_in_days": days}
            uow.audit.append(actor, "api_key.created", None, data, now)
            uow.commit()
        return key_id, key

    def revoke(self, key_id: str, actor: str) -> None:
        now = self._clock()
        with self._uow() as uow:
            if not uow.keys.revoke(key_id, now):
                raise NotFound("not_found", "no API key with that id")
            uow.audit.append(actor, "api_key.revoked", None, {"key_id": key_id}, now)
            uow.commit()
