"""Legal holds: while a call is on hold, nothing of it may be erased or deleted (ledger, audit, recordings).

``uow.holds.is_on_hold`` is what other features (recording retention, erasure) ask before deleting anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from recorder.services.compliance.records import HoldRecords, HoldsUnitOfWork, LegalHoldRow
from recorder.services.errors import Conflict
from recorder.services.views import fields

log = logging.getLogger("recorder.holds")

# (call id, on) -> "applied" or "unsupported": sets or clears the Blob legal hold on its recordings
BlobHold = Callable[[str, bool], str]


class HoldConflict(Conflict):
    """Placing a hold twice, or releasing one that is not there."""


class LegalHolds:
    """Placing and releasing holds, each in one transaction with the Blob hold on the call's recordings."""

    def __init__(
        self,
        unit_of_work: Callable[[], HoldsUnitOfWork],
        clock: Callable[[], datetime],
        blob_hold: Callable[[str, bool, Any], str],
    ) -> None:
        self._uow, self._clock, self._blob_hold = unit_of_work, clock, blob_hold

    def change(self, call_id: str, *, placing: bool, reason: str, actor: str) -> dict[str, Any]:
        with self._uow() as uow:
            change = place_hold if placing else release_hold
            in_this_transaction = lambda held_call, on: self._blob_hold(held_call, on, uow)  # noqa: E731
            result = change(uow, call_id, reason, actor, self._clock(), in_this_transaction)
            uow.commit()
        return result


def holds_of(holds: HoldRecords, call_id: str) -> list[dict[str, Any]]:
    return [_describe(r) for r in holds.of(call_id)]


def place_hold(
    uow: HoldsUnitOfWork, call_id: str, reason: str, actor: str, now: datetime, blob_hold: BlobHold | None
) -> dict[str, Any]:
    """Hold the call (audited, with what the blob store said); the caller commits."""
    if uow.holds.is_on_hold(call_id):
        raise HoldConflict("already_on_hold", "the call is already on legal hold")
    blob = _apply(blob_hold, call_id, on=True)
    hold = uow.holds.place(call_id, reason, actor, now, blob)
    uow.audit.append(
        actor, "legal_hold.placed", call_id, {"hold_id": hold.id, "reason": reason, "blob": blob}, now
    )
    return _describe(hold)


def release_hold(
    uow: HoldsUnitOfWork, call_id: str, reason: str, actor: str, now: datetime, blob_hold: BlobHold | None
) -> dict[str, Any]:
    active = uow.holds.active(call_id)
    if active is None:
        raise HoldConflict("not_on_hold", "the call has no active legal hold")
    blob = _apply(blob_hold, call_id, on=False)
    hold = uow.holds.release(active.id, actor, now, reason)
    uow.audit.append(
        actor, "legal_hold.released", call_id, {"hold_id": hold.id, "reason": reason, "blob": blob}, now
    )
    return _describe(hold)


def _apply(blob_hold: BlobHold | None, call_id: str, *, on: bool) -> str:
    if blob_hold is None:
        return "not_configured"
    try:
        return blob_hold(call_id, on)
    except Exception as exc:  # the database hold stands even when the blob store refuses
        log.warning("legal_hold.blob_failed", extra={"call_id": call_id, "error": type(exc).__name__})
        return f"failed:{type(exc).__name__}"


def _describe(hold: LegalHoldRow) -> dict[str, Any]:
    names = ("id", "reason", "set_by", "set_at", "released_by", "released_at", "release_reason", "blob_hold")
    return fields(hold, *names)
