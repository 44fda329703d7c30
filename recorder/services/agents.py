"""The call center's own agents, as the consent policy sees them: identities this service issued tokens to.

The domain stays pure: the lookup happens here, and ``decide`` gets a policy whose ``exempt`` table names the
agents present, each with the reason the ledger records.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from sqlalchemy.orm import Session

from recorder.db import identity_repository
from recorder.domain.model import ConsentPolicy

AGENT_REASON = "agent-identity"


def exempting_known_agents(session: Session, policy: ConsentPolicy, raw_ids: Iterable[str]) -> ConsentPolicy:
    """``policy`` plus an exemption for each of ``raw_ids`` that is a known agent identity. A reason the
    configuration already gives for an identity wins."""
    agents = identity_repository.known_agents(session, raw_ids)
    missing = agents - set(policy.exempt)
    if not missing:
        return policy
    return replace(policy, exempt={**dict.fromkeys(sorted(missing), AGENT_REASON), **policy.exempt})


def is_agent(session: Session, raw_id: str) -> bool:
    """An identity this service issued tokens to: a call to it is an agent's, not one to answer."""
    return bool(identity_repository.known_agents(session, [raw_id]))
