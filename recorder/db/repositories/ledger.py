"""The consent ledger and the inbox that de-duplicates events. Never commits: the unit of work does."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from recorder.db.tables.calls import ConsentEntry, InboxEvent, RecordingSegment
from recorder.domain import effects as fx
from recorder.domain.model import CallState


class LedgerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, state: CallState, record: fx.ConsentRecorded, event_id: str | None, now: datetime) -> None:
        prompt = record.prompt
        self.session.add(
            ConsentEntry(
                call_id=state.call_id,
                call_connection_id=state.call_connection_id,
                server_call_id=state.server_call_id,
                participant=record.participant,
                outcome=record.outcome,
                method=record.method,
                reason=record.reason,
                dtmf=record.dtmf,
                prompt_id=prompt.id if prompt else None,
                prompt_version=prompt.version if prompt else None,
                locale=prompt.locale if prompt else None,
                prompt_sha256=prompt.sha256 if prompt else None,
                prompted_at=record.prompted_at,
                decided_at=record.decided_at,
                event_id=event_id,
                recorded_at=now,
            )
        )

    def add_segment(self, call_id: str, record: fx.SegmentRecorded, event_id: str | None) -> None:
        self.session.add(
            RecordingSegment(
                call_id=call_id,
                recording_id=record.recording_id,
                kind=record.kind,
                at=record.at,
                event_id=event_id,
            )
        )


class InboxRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, channel: str, event_id: str, event_type: str, call_id: str | None, now: datetime) -> bool:
        """Insert-or-ignore; True only for the first delivery of this event id."""
        values = {
            "channel": channel,
            "event_id": event_id,
            "event_type": event_type,
            "call_id": call_id,
            "received_at": now,
        }
        insert = pg_insert if self.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        inbox = InboxEvent.metadata.tables["inbox"]  # Core, not the ORM: this runs once per event
        statement = insert(inbox).values(**values).on_conflict_do_nothing().returning(inbox.c.event_id)
        return self.session.execute(statement).first() is not None
