"""API keys for the compliance API: random, shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from recorder.db.tables.access import ApiKey


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
    session: Session, role: Role, name: str, now: datetime, ttl: timedelta | None = None
) -> tuple[str, str]:
    """Returns (key id, the key itself); only the hash is kept."""
    prefix = secrets.token_hex(4)
    key = f"rk_{prefix}_{secrets.token_urlsafe(32)}"
    key_id = str(uuid.uuid4())
    session.add(
        ApiKey(
            id=key_id,
            name=name,
            role=role,
            key_hash=hash_key(key),
            prefix=prefix,
            created_at=now,
            expires_at=now + ttl if ttl else None,
        )
    )
    return key_id, key


def authenticate(session: Session, key: str, now: datetime) -> Principal | None:
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    return Principal(row.id, row.name, Role(row.role))


def key_state(row: ApiKey, now: datetime) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"


def list_keys(session: Session, now: datetime) -> list[dict[str, str | None]]:
    """Every key's metadata (never its hash), oldest first."""
    rows = session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id))
    return [
        {
            "id": r.id,
            "name": r.name,
            "role": r.role,
            "prefix": r.prefix,
            "state": key_state(r, now),
            "created_at": r.created_at.isoformat(),
            "expires_at": r.expires_at.isoformat() if r.expires_at else None,
            "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
        }
        for r in rows
    ]


def revoke_key(session: Session, key_id: str, now: datetime) -> bool:
    """Revoke a key by id; False if there is no such key. Revoking twice keeps the first time."""
    row = session.get(ApiKey, key_id)
    if row is None:
        return False
    if row.revoked_at is None:
        row.revoked_at = now
    return True
