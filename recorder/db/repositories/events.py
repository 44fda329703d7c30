"""The per-call queue of events this service publishes, and the recording requests a decision can fail.
Never commits: the unit of work does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from recorder.db.tables.recording_requests import OutgoingEventRow, RecordingRequest

WAKE_PENDING = "recorder.events_wake_pending"


class EventRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def last_sequence(self, call_id: str) -> int:
        last = self.session.scalar(
            select(func.max(OutgoingEventRow.call_seq)).where(OutgoingEventRow.call_id == call_id)
        )
        return last or 0

    def requests_of(self, call_id: str) -> list[tuple[str, str | None]]:
        """The call's recording requests, oldest first: (id, external reference)."""
        rows = self.session.execute(
            select(RecordingRequest.id, RecordingRequest.external_reference)
            .where(RecordingRequest.call_id == call_id)
            .order_by(RecordingRequest.created_at, RecordingRequest.id)
        ).all()
        return [(request_id, reference) for request_id, reference in rows]

    def add(self, row: dict[str, Any]) -> None:
        self.session.add(OutgoingEventRow(**row))
        self.session.flush()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once when this transaction commits (however many events it wrote)."""
        if self.session.info.get(WAKE_PENDING):
            return
        self.session.info[WAKE_PENDING] = True

        def committed(session: Session) -> None:
            session.info.pop(WAKE_PENDING, None)
            callback()

        event.listen(self.session, "after_commit", committed, once=True)


class RecordingRequestRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def fail_open(self, call_id: str, open_state: str, failed_state: str, reason: str, now: datetime) -> None:
        self.session.execute(
            update(RecordingRequest)
            .where(RecordingRequest.call_id == call_id, RecordingRequest.state == open_state)
            .values(state=failed_state, failure_reason=reason, updated_at=now)
        )
