"""Which calls a service key may act on: those it started (a recording request that connected to or placed
the call) and those an operator or admin granted it. Any other call, even a live one the service handles,
is not the key's: it can neither attach a recording request to it, nor read its state, nor stop it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from recorder.services.calls.ports import Grants, GrantsUnitOfWork
from recorder.services.errors import NotFound

STARTING_KINDS = ("connect", "outbound")  # the request that made the service join or place the call
ENTRA_PRINCIPAL = re.compile(r"entra:[A-Za-z0-9._-]{1,128}")


def may_act(grants: Grants, key_id: str, call_id: str) -> bool:
    return grants.may_act(key_id, call_id, STARTING_KINDS)


def grant(uow: GrantsUnitOfWork, call_id: str, key_id: str, actor: str, now: datetime) -> dict[str, Any]:
    """Let ``key_id`` act on the call; granting twice keeps the first grant. Audited."""
    if not (ENTRA_PRINCIPAL.fullmatch(key_id) or uow.grants.key_exists(key_id)):
        raise NotFound("unknown_key", "no API key with that id")
    row, new = uow.grants.grant(call_id, key_id, actor, now)
    if new:
        uow.audit.append(actor, "calls.granted", call_id, {"key_id": key_id}, now)
    return {"key_id": row.key_id, "granted_by": row.granted_by, "granted_at": row.granted_at.isoformat()}


def revoke(uow: GrantsUnitOfWork, call_id: str, key_id: str, actor: str, now: datetime) -> bool:
    if not uow.grants.revoke(call_id, key_id):
        return False
    uow.audit.append(actor, "calls.grant_revoked", call_id, {"key_id": key_id}, now)
    return True


class CallGrants:
    """An operator lets a service key act on a call it did not start, or takes that away (audited)."""

    def __init__(self, unit_of_work: Callable[[], GrantsUnitOfWork], clock: Callable[[], datetime]) -> None:
        self._uow, self._clock = unit_of_work, clock

    def grant(self, call_id: str, key_id: str, actor: str) -> dict[str, Any]:
        with self._uow() as uow:
            granted = grant(uow, call_id, key_id, actor, self._clock())
            uow.commit()
        return granted

    def revoke(self, call_id: str, key_id: str, actor: str) -> None:
        with self._uow() as uow:
            if not revoke(uow, call_id, key_id, actor, self._clock()):
                raise NotFound("not_found", "that key has no grant on this call")
            uow.commit()
