"""Access decisions kept in the database: the API keys, which keys were granted which calls, which identities
an admin registered as consent-exempt agents, and the console's server-side sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from recorder.db.tables.base import Base, UTCDateTime

PRINCIPAL_ID = 160  # an API key id (uuid) or "entra:<object id>"


class CallGrant(Base):
    """A service key may act on a call it did not start once an operator or admin grants it."""

    __tablename__ = "call_grants"

    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(PRINCIPAL_ID), primary_key=True)
    granted_by: Mapped[str] = mapped_column(String(PRINCIPAL_ID + 4))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AgentExemption(Base):
    """An identity an admin registered as the center's own agent: recorded ``exempt`` when it joins a call."""

    __tablename__ = "agent_exemptions"

    identity: Mapped[str] = mapped_column(String(256), primary_key=True)
    reason: Mapped[str] = mapped_column(String(128))
    registered_by: Mapped[str] = mapped_column(String(PRINCIPAL_ID + 4))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConsoleSession(Base):
    """A console sign-in. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie's token
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # absolute end, whatever the activity
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
