"""The call center's own agents, as the consent policy sees them: identities an admin registered as exempt.

Issuing an ACS token makes nobody exempt (a service key could otherwise mint consent-exempt identities at
will); an admin registers each agent identity through the API or ``recorder agents exempt``, audited, and
can remove it again. The configuration's ``[consent.exempt]`` table still applies as before, and its reason
wins. The domain stays pure: the consent flow (``consent_flow.exempting_known_agents``) looks the register
up, and ``decide`` gets a policy whose ``exempt`` table names the agents present, with the ledger's reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from recorder.services.calls.ports import AgentExemptions, AgentsUnitOfWork, AgentView
from recorder.services.errors import Invalid, NotFound
from recorder.services.views import fields

AGENT_REASON = "agent-identity"
IDENTITY = re.compile(r"8:[a-z-]{1,16}:[A-Za-z0-9_:.\-]{1,200}|4:\+[1-9][0-9]{5,14}")
REASON = re.compile(r"[\x20-\x7e]{1,128}")


class ExemptionError(Invalid):
    """An identity or reason an admin cannot register."""


def check_identity(value: object) -> str:
    if not isinstance(value, str) or not IDENTITY.fullmatch(value):
        raise ExemptionError(
            "invalid_identity", "identity must be an ACS raw id such as 8:acs:<id> or 4:+14255550123"
        )
    return value


def check_reason(value: object) -> str:
    if value is None:
        return AGENT_REASON
    if not isinstance(value, str) or not REASON.fullmatch(value.strip()):
        raise ExemptionError("invalid_reason", "reason must be 1 to 128 printable ASCII characters")
    return value.strip()


def register(uow: AgentsUnitOfWork, identity: str, reason: str, actor: str, now: datetime) -> dict[str, Any]:
    """Exempt ``identity`` from consent prompts from its next join on; audited. Registering again updates
    the reason."""
    row = uow.agents.exempt(identity, reason, actor, now)
    uow.audit.append(actor, "agents.exempted", None, {"identity": identity, "reason": reason}, now)
    return view(row)


def unregister(uow: AgentsUnitOfWork, identity: str, actor: str, now: datetime) -> bool:
    """Remove the exemption; False when there was none. Audited when one was removed."""
    if not uow.agents.unexempt(identity):
        return False
    uow.audit.append(actor, "agents.exemption_removed", None, {"identity": identity}, now)
    return True


def list_exemptions(agents: AgentExemptions) -> list[dict[str, Any]]:
    """Every registered agent (the web's audited read: ``queries.registers.exemptions``)."""
    return [view(row) for row in agents.exemptions()]


def view(row: AgentView) -> dict[str, Any]:
    return fields(row, "identity", "reason", "registered_by", "registered_at")


class Agents:
    """The register of the center's consent-exempt agents, changed only by admins (audited)."""

    def __init__(self, unit_of_work: Callable[[], AgentsUnitOfWork], clock: Callable[[], datetime]) -> None:
        self._uow, self._clock = unit_of_work, clock

    def register(self, identity: object, reason: object, actor: str) -> dict[str, Any]:
        checked, why = check_identity(identity), check_reason(reason)
        with self._uow() as uow:
            result = register(uow, checked, why, actor, self._clock())
            uow.commit()
        return result

    def unregister(self, identity: str, actor: str) -> None:
        with self._uow() as uow:
            if not unregister(uow, identity, actor, self._clock()):
                raise NotFound("not_found", "that identity is not registered as exempt")
            uow.commit()
