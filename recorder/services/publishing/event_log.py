"""What the service publishes: one event row per consent decision and recording transition, in the same
transaction as the decision, numbered per call so they go out in order with ids that never change.

Types are ``recorder.<noun>.<verb>``; ``source`` is ``/recorder/calls/<server_call_id>``; the id is a uuid5 of
the call id and the event's number within the call, so a re-sent event keeps its id and subscribers can
de-duplicate. ``exempt`` consent is a policy fact, not a participant's decision, and is not published.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from recorder.domain import effects as fx
from recorder.domain.model import CallState
from recorder.services.calls.ports import CallsUnitOfWork, EventRows, HasEvents

EVENT_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:recorder:published-events")
PUBLISHED_OUTCOMES = frozenset({"granted", "declined", "no_response", "withdrawn"})
PENDING, PUBLISHED, LOCAL = "pending", "published", "local"


def event_id(call_id: str, call_seq: int) -> str:
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{call_id}/{call_seq}"))


def event_source(state: CallState) -> str:
    # an outbound call that was never placed has no server call id: name it by the service's own call id
    return f"/recorder/calls/{state.server_call_id or state.call_id}"


class EventLog:
    """A ``DecisionObserver``: turns a decision's records into event rows for the publisher."""

    def __init__(self, *, publishing: bool, events_written: Callable[[], None] = lambda: None) -> None:
        self._status = PENDING if publishing else LOCAL
        self.events_written = events_written

    def decided(
        self, uow: CallsUnitOfWork, state: CallState, records: Sequence[fx.Record], now: datetime
    ) -> None:
        for record in records:
            match record:
                case fx.ConsentRecorded() if record.outcome in PUBLISHED_OUTCOMES:
                    data = {
                        "participant": record.participant,
                        "outcome": str(record.outcome),
                        "method": record.method,
                        "decided_at": record.decided_at.isoformat(),
                    }
                    self.add(uow.events, state, f"consent.{record.outcome}", record.decided_at, data, now)
                case fx.SegmentRecorded():
                    data = {"recording_id": record.recording_id, "at": record.at.isoformat()}
                    self.add(uow.events, state, f"recording.{record.kind}", record.at, data, now)
                case fx.CallEnded():
                    ended = {"reason": record.reason, "failed": record.failed, "at": record.at.isoformat()}
                    self.add(uow.events, state, "call.ended", record.at, ended, now)

    def recording_stored(
        self, uow: HasEvents, state: CallState, recording_id: str, details: dict[str, Any], at: datetime
    ) -> str:
        """For the storage feature: publish ``recorder.recording.stored`` once a recording is stored."""
        data = {"recording_id": recording_id, "at": at.isoformat(), **details}
        return self.add(uow.events, state, "recording.stored", at, data, at)

    def add(
        self,
        events: EventRows,
        state: CallState,
        verb: str,
        at: datetime,
        data: dict[str, Any],
        now: datetime,
    ) -> str:
        """Append one event to the call's sequence; the caller holds the call's lock (one writer per call)."""
        call_seq = events.last_sequence(state.call_id) + 1
        requests = events.requests_of(state.call_id)
        row_id = event_id(state.call_id, call_seq)
        events.add(
            {
                "id": row_id,
                "call_id": state.call_id,
                "call_seq": call_seq,
                "type": f"recorder.{verb}",
                "source": event_source(state),
                "subject": f"calls/{state.call_id}/events/{call_seq}",
                "time": at,
                "data": {
                    "call_id": state.call_id,
                    "call_connection_id": state.call_connection_id,
                    "server_call_id": state.server_call_id or None,
                    "recording_id": state.recording_id,
                    "recording_request_id": requests[0][0] if requests else None,
                    "recording_request_ids": [r[0] for r in requests],
                    "external_reference": requests[0][1] if requests else None,
                    "sequence": call_seq,
                    **data,
                },
                "status": self._status,
                "attempts": 0,
                "available_at": now,
                "created_at": now,
            }
        )
        if self._status == PENDING:
            events.after_commit(self.events_written)
        return row_id
