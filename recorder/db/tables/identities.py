"""ACS identities this service created for the call center's own users (its agents)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from recorder.db.tables.base import Base, UTCDateTime


class AgentIdentity(Base):
    """One ACS identity per (API key, application user id), and one user id per identity: user ids are
    namespaced by the key that asked, so one application cannot reach another's agents. Tokens are never
    stored; being here exempts nobody from consent (that is ``agent_exemptions``, which an admin writes)."""

    __tablename__ = "agent_identities"

    owner: Mapped[str] = mapped_column(String(168), primary_key=True)  # the actor that asked: key:<id>
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    acs_identity: Mapped[str] = mapped_column(String(256), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
