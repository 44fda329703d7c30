"""Recording on request: a call-center app asks for a call to be recorded (or places one); the consent flow
decides when recording may start. One unit of work per request; an Idempotency-Key makes a retry return the
first request instead of connecting again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from recorder.domain import events as ev
from recorder.domain.consent import new_connected_call, new_outbound_call
from recorder.domain.model import CallPhase, RecordingStatus
from recorder.services.calls.call_access import may_act
from recorder.services.calls.consent_flow import CallService
from recorder.services.calls.ports import RequestCall, RequestRow, RequestsUnitOfWork
from recorder.services.calls.records_written import REQUEST_FAILED, REQUEST_OPEN
from recorder.services.errors import Conflict, Forbidden, NotFound

log = logging.getLogger("recorder.recordings")

OPEN, STOP_REQUESTED, FAILED = REQUEST_OPEN, "stop_requested", REQUEST_FAILED
REFUSED = frozenset({"declined", "no_response", "withdrawn"})


@dataclass(frozen=True)
class Caller:
    """Who is asking: an API key; ``sees_all`` for roles that may see every app's requests and act on every
    call (operator, admin; auditors only read)."""

    key_id: str
    sees_all: bool = False

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"


@dataclass(frozen=True)
class NewRequest:
    idempotency_key: str
    fingerprint: str
    server_call_id: str | None = None
    call_connection_id: str | None = None
    target: str | None = None
    source_caller_id: str | None = None
    region: str | None = None
    external_reference: str | None = None


class RecordingRequests:
    def __init__(
        self,
        unit_of_work: Callable[[], RequestsUnitOfWork],
        calls: CallService,
        clock: Callable[[], datetime],
        commands_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self._uow = unit_of_work
        self._calls = calls
        self._clock = clock
        self._commands_queued = commands_queued

    def create(self, caller: Caller, new: NewRequest) -> tuple[dict[str, Any], bool]:
        """The request's view and whether it is new (False: the same Idempotency-Key was seen before)."""
        try:
            return self._create(caller, new)
        except _Raced:
            # the same key raced in on another connection and won: answer with its request
            return self._create(caller, new)

    def _create(self, caller: Caller, new: NewRequest) -> tuple[dict[str, Any], bool]:
        now = self._clock()
        with self._uow() as uow:
            existing = uow.requests.by_idempotency_key(caller.key_id, new.idempotency_key)
            if existing is not None:
                if existing.fingerprint != new.fingerprint:
                    raise Conflict(
                        "idempotency_key_reused", "this Idempotency-Key was used for a different request"
                    )
                _check_access(uow, caller, existing.call_id)
                return view(uow, existing), False
            call_id, kind = self._call_for(uow, caller, new, now)
            row = uow.requests.add(
                {
                    "id": str(uuid.uuid4()),
                    "key_id": caller.key_id,
                    "idempotency_key": new.idempotency_key,
                    "fingerprint": new.fingerprint,
                    "kind": kind,
                    "call_id": call_id,
                    "server_call_id": new.server_call_id,
                    "call_connection_id": new.call_connection_id,
                    "target": new.target,
                    "source_caller_id": new.source_caller_id,
                    "region": new.region,
                    "external_reference": new.external_reference,
                    "state": OPEN,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if row is None:
                raise _Raced()  # leaving the unit of work undoes the call this request made
            uow.audit.append(
                caller.actor,
                "recording_request.created",
                call_id,
                {"request_id": row.id, "kind": kind, "region": new.region},
                now,
            )
            result = view(uow, row)
            uow.commit()
        log.info("recording_request.created", extra={"request_id": row.id, "call_id": call_id, "kind": kind})
        self._commands_queued()
        return result, True

    def _call_for(
        self, uow: RequestsUnitOfWork, caller: Caller, new: NewRequest, now: datetime
    ) -> tuple[str, str]:
        """The call the request is about: one the service already has and the caller may act on, or a new
        one it connects or places."""
        locale = self._calls.policy.default_locale
        if new.call_connection_id is not None:
            call_id = uow.calls.id_for_connection(new.call_connection_id)
            if call_id is None or not _allowed(uow, caller, call_id):  # someone else's call: as if unknown
                raise NotFound("unknown_call", "the service handles no call with that call_connection_id")
            row = uow.calls.row(call_id)
            if row is None or row.phase == CallPhase.ENDED:
                raise Conflict("call_ended", "that call has ended")
            return call_id, "existing"
        call_id = str(uuid.uuid4())
        if new.server_call_id is not None:
            live = uow.calls.live_for_server_call(new.server_call_id)
            if live is not None:  # already connected (or connecting): never a second connection
                if not _allowed(uow, caller, live):
                    raise Conflict(
                        "call_not_granted",
                        "the service already handles this call for someone else; an operator can grant "
                        "this key access to it",
                    )
                return live, "existing"
            decision = new_connected_call(call_id, new.server_call_id, locale)
            self._calls.start_call(uow, decision, "ConnectRequested", now, direction="connected")
            return call_id, "connect"
        assert new.target is not None
        decision = new_outbound_call(call_id, new.target, new.source_caller_id, locale)
        self._calls.start_call(
            uow,
            decision,
            "CallRequested",
            now,
            direction="outbound",
            callee=new.target,
            caller=f"4:{new.source_caller_id}" if new.source_caller_id else None,
        )
        return call_id, "outbound"

    def get(self, caller: Caller, request_id: str) -> dict[str, Any]:
        with self._uow() as uow:
            row = self._owned(uow, caller, request_id)
            _check_access(uow, caller, row.call_id)
            return view(uow, row)

    def stop(self, caller: Caller, request_id: str) -> dict[str, Any]:
        """Stop recording the request's call for good; said in the audit trail with who asked."""
        now = self._clock()
        with self._uow() as uow:
            row = self._owned(uow, caller, request_id)
            _check_access(uow, caller, row.call_id)
            if row.state == OPEN:
                applied = self._calls.apply_in(uow, row.call_id, ev.StopRequested(now, caller.actor), now)
                uow.requests.stop_requested(row.id, STOP_REQUESTED, now)
                recording = applied[0].recording if applied else None
                uow.audit.append(
                    caller.actor,
                    "recording_request.stopped",
                    row.call_id,
                    {"request_id": row.id, "recording_was": recording},
                    now,
                )
            result = view(uow, row)
            uow.commit()
        self._commands_queued()
        return result

    def _owned(self, uow: RequestsUnitOfWork, caller: Caller, request_id: str) -> RequestRow:
        row = uow.requests.get(request_id)
        if row is None or (row.key_id != caller.key_id and not caller.sees_all):
            raise NotFound("not_found", "no recording request with that id")  # nor someone else's
        return row


class _Raced(Exception):
    """The request's Idempotency-Key was inserted by another connection first."""


def _allowed(uow: RequestsUnitOfWork, caller: Caller, call_id: str) -> bool:
    return caller.sees_all or may_act(uow.grants, caller.key_id, call_id)


def _check_access(uow: RequestsUnitOfWork, caller: Caller, call_id: str) -> None:
    """A request on a call the key did not start and was not granted (one attached before grants existed)
    neither shows the call's consent-derived state nor stops its recording."""
    if not _allowed(uow, caller, call_id):
        raise Forbidden("call_not_granted", "this key may not act on that call; ask an operator")


def view(uow: RequestsUnitOfWork, row: RequestRow) -> dict[str, Any]:
    call = uow.calls.row(row.call_id)
    assert call is not None
    state, reason = derive_state(uow, row, call)
    return {
        "id": row.id,
        "kind": row.kind,
        "state": state,
        "failure_reason": reason,
        "server_call_id": call.server_call_id or None,
        "call_connection_id": call.call_connection_id,
        "target": row.target,
        "region": row.region,
        "external_reference": row.external_reference,
        "created_at": row.created_at.isoformat(),
        "updated_at": max(row.updated_at, call.updated_at).isoformat(),
        "stopped_at": row.stopped_at.isoformat() if row.stopped_at else None,
    }


def derive_state(uow: RequestsUnitOfWork, row: RequestRow, call: RequestCall) -> tuple[str, str | None]:
    """connecting, awaiting_consent, recording, paused, declined, stopped, stored or failed."""
    if row.state == FAILED:
        return "failed", row.failure_reason
    if call.phase == CallPhase.ENDED and call.call_connection_id is None:
        return "failed", row.failure_reason or "the call ended before the service was connected"
    if uow.requests.stored(call.id):
        return "stored", None
    if row.state == STOP_REQUESTED or call.recording == RecordingStatus.STOPPED:
        return "stopped", None
    if call.phase == CallPhase.ANSWERING or call.call_connection_id is None:
        return "connecting", None
    if call.recording == RecordingStatus.FAILED:
        return "failed", "ACS did not start the recording"
    if call.recording == RecordingStatus.ACTIVE:
        return ("recording" if call.recording_reported == "active" else "awaiting_consent"), None
    if call.recording == RecordingStatus.PAUSED:
        return "paused", None
    if uow.calls.anyone_consented(call.id, REFUSED):
        return "declined", None
    return ("stopped" if call.phase == CallPhase.ENDED else "awaiting_consent"), None
