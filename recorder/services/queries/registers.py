"""The registers an admin reads, on an audited read's session: the consent-exempt agents and the API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from recorder.db.repositories.access import KeyRepository
from recorder.db.repositories.agents import AgentRepository
from recorder.services.calls import agents
from recorder.services.tokens import api_keys


def exemptions(session: Session) -> list[dict[str, Any]]:
    return agents.list_exemptions(AgentRepository(session))


def keys(session: Session, now: datetime) -> list[dict[str, str | None]]:
    return api_keys.list_keys(KeyRepository(session), now)
