"""ACS identities this service created for the call center's own users (its agents)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from recorder.db.tables import Base, UTCDateTime


class AgentIdentity(Base):
    """One ACS identity per application user id, and one user id per identity. Tokens are never stored."""

    __tablename__ = "agent_identities"

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    acs_identity: Mapped[str] = mapped_column(String(256), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
