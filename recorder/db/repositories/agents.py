"""Which identities are the center's agents: registered exempt by an admin, or given ACS identities by this
service. Never commits: the unit of work does."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from recorder.db.repositories.identities import IdentityRepository
from recorder.db.tables.access import AgentExemption

MAX_LOOKUP = 500  # raw ids per IN (...) query


class AgentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def registered(self, raw_ids: Iterable[str]) -> dict[str, str]:
        """The identities among ``raw_ids`` an admin registered as agents, with the reason given."""
        candidates = sorted(set(raw_ids))
        found: dict[str, str] = {}
        for start in range(0, len(candidates), MAX_LOOKUP):
            batch = candidates[start : start + MAX_LOOKUP]
            rows = self.session.execute(
                select(AgentExemption.identity, AgentExemption.reason).where(
                    AgentExemption.identity.in_(batch)
                )
            )
            found.update({identity: reason for identity, reason in rows})
        return found

    def is_agent(self, raw_id: str) -> bool:
        """An identity this service issued tokens to, or one an admin registered as an agent: a call to it is
        an agent's, not one to answer."""
        return IdentityRepository(self.session).user_for(raw_id) is not None or bool(
            self.registered([raw_id])
        )

    def exempt(self, identity: str, reason: str, actor: str, now: datetime) -> AgentExemption:
        """Register (or re-register, with the new reason) an agent identity as exempt."""
        row = self.session.get(AgentExemption, identity)
        if row is None:
            row = AgentExemption(identity=identity, reason=reason, registered_by=actor, registered_at=now)
            self.session.add(row)
        else:
            row.reason, row.registered_by, row.registered_at = reason, actor, now
        self.session.flush()
        return row

    def unexempt(self, identity: str) -> bool:
        """Remove the exemption; False when there was none."""
        removed = self.session.execute(delete(AgentExemption).where(AgentExemption.identity == identity))
        return bool(getattr(removed, "rowcount", 0))

    def exemptions(self) -> list[AgentExemption]:
        return list(self.session.scalars(select(AgentExemption).order_by(AgentExemption.identity)))
