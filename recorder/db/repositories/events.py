"""The per-call queue of events this service publishes, and the recording requests a decision can fail.
Never commits: the unit of work does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from recorder.db import leases
from recorder.db.tables.recording_requests import OutgoingEventRow, RecordingRequest
from recorder.domain.published import OutgoingEvent

PENDING, PUBLISHED = "pending", "published"

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

    # The publisher's side: per call, only the oldest unsent event can be claimed.

    def ready_heads(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        """``[(event id, call id)]`` of each call's oldest unsent event whose turn has come, unleased."""
        heads = (
            select(OutgoingEventRow.call_id, func.min(OutgoingEventRow.call_seq).label("first"))
            .where(OutgoingEventRow.status == PENDING)
            .group_by(OutgoingEventRow.call_id)
            .subquery()
        )
        ready = self.session.execute(
            select(OutgoingEventRow.id, OutgoingEventRow.call_id)
            .join(
                heads,
                (OutgoingEventRow.call_id == heads.c.call_id) & (OutgoingEventRow.call_seq == heads.c.first),
            )
            .where(OutgoingEventRow.available_at <= now)
            .where(leases.unleased(OutgoingEventRow, now))
            .order_by(OutgoingEventRow.seq)
            .limit(limit)
        ).all()
        return [(head_id, call_id) for head_id, call_id in ready]

    def claim(self, head_id: str, now: datetime, lease: timedelta) -> bool:
        unsent = (OutgoingEventRow.id == head_id) & (OutgoingEventRow.status == PENDING)
        return leases.claim(self.session, OutgoingEventRow, unsent, now, lease)

    def unsent(self, call_id: str, limit: int) -> tuple[list[OutgoingEvent], int]:
        """The call's unsent events, in order, and how often the first was tried (1 when there are none)."""
        rows = self.session.scalars(
            select(OutgoingEventRow)
            .where(OutgoingEventRow.call_id == call_id, OutgoingEventRow.status == PENDING)
            .order_by(OutgoingEventRow.call_seq)
            .limit(limit)
        ).all()
        events = [OutgoingEvent(r.id, r.type, r.source, r.subject, r.time, dict(r.data)) for r in rows]
        return events, rows[0].attempts if rows else 1

    def published(self, event_ids: list[str], now: datetime) -> None:
        self.session.execute(
            update(OutgoingEventRow)
            .where(OutgoingEventRow.id.in_(event_ids))
            .values(status=PUBLISHED, published_at=now, claimed_until=None, last_error=None)
        )

    def retry_later(self, head_id: str, available_at: datetime, error: str) -> None:
        this = OutgoingEventRow.id == head_id
        leases.release(self.session, OutgoingEventRow, this, available_at, last_error=error)

    def stats(self, now: datetime) -> tuple[int, float]:
        """Unsent events and the age in seconds of the oldest."""
        return leases.backlog(self.session, OutgoingEventRow, now)


class RecordingRequestRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def fail_open(self, call_id: str, open_state: str, failed_state: str, reason: str, now: datetime) -> None:
        self.session.execute(
            update(RecordingRequest)
            .where(RecordingRequest.call_id == call_id, RecordingRequest.state == open_state)
            .values(state=failed_state, failure_reason=reason, updated_at=now)
        )

    def by_idempotency_key(self, key_id: str, idempotency_key: str) -> RecordingRequest | None:
        query = select(RecordingRequest).where(
            RecordingRequest.key_id == key_id, RecordingRequest.idempotency_key == idempotency_key
        )
        return self.session.scalar(query)

    def add(self, values: dict[str, Any]) -> RecordingRequest | None:
        """Insert the request; None when its (key, Idempotency-Key) raced in on another connection first."""
        insert = pg_insert if self.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = insert(RecordingRequest).values(**values).on_conflict_do_nothing()
        if self.session.execute(statement.returning(RecordingRequest.id)).first() is None:
            return None
        return self.session.get_one(RecordingRequest, values["id"])

    def get(self, request_id: str) -> RecordingRequest | None:
        return self.session.get(RecordingRequest, request_id)

    def stop_requested(self, request_id: str, state: str, now: datetime) -> None:
        row = self.session.get_one(RecordingRequest, request_id)
        row.state, row.stopped_at, row.updated_at = state, now, now
        self.session.flush()

    def stored(self, call_id: str) -> bool:
        """A recording of the call has been stored (its ``recorder.recording.stored`` event was written)."""
        query = exists().where(
            OutgoingEventRow.call_id == call_id, OutgoingEventRow.type == "recorder.recording.stored"
        )
        return bool(self.session.scalar(select(query)))
