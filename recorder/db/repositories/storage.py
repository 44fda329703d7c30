"""Stored recordings: one row per chunk, queued by the webhook, taken under the one lease rule by the storage
worker, registered once, held, deleted by retention. Never commits: the unit of work does."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from recorder.db import leases
from recorder.db.tables.calls import Call, ConsentEntry
from recorder.db.tables.recording_requests import RecordingRequest
from recorder.db.tables.storage import StoredRecording

PENDING, STORED, DELETED = "pending", "stored", "deleted"


class StorageRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # The calls recordings belong to ------------------------------------------------------------------------

    def call(self, call_id: str) -> Call | None:
        """The call's row, detached: it stays readable once the unit of work is over."""
        row = self.session.get(Call, call_id)
        if row is not None:
            self.session.expunge(row)
        return row

    def call_of_server_call(self, server_call_id: str) -> Call | None:
        """The newest call with that server call id (ACS reuses none, but a test or a replay may)."""
        query = select(Call).where(Call.server_call_id == server_call_id).order_by(Call.created_at.desc())
        return self.session.scalars(query).first()

    def requested_region(self, call_id: str) -> str | None:
        """The region the call's first recording request named, if any."""
        return self.session.scalar(
            select(RecordingRequest.region)
            .where(RecordingRequest.call_id == call_id, RecordingRequest.region.is_not(None))
            .order_by(RecordingRequest.created_at, RecordingRequest.id)
            .limit(1)
        )

    def last_consent(self, call_id: str) -> int:
        """The id of the call's newest ledger row (0: none): what a stored chunk's metadata points at."""
        last = self.session.scalar(select(func.max(ConsentEntry.id)).where(ConsentEntry.call_id == call_id))
        return last or 0

    # The queue ---------------------------------------------------------------------------------------------

    def queue(self, values: dict[str, Any]) -> bool:
        """Insert the row unless that chunk is already queued (a redelivered event); True when inserted."""
        insert = pg_insert if self.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = insert(StoredRecording).values(**values).on_conflict_do_nothing()
        return self.session.execute(statement.returning(StoredRecording.id)).first() is not None

    def ready(self, now: datetime, limit: int, *, acs_copies: bool) -> list[int]:
        """Rows with work left whose turn has come and that nobody holds: pending ones, and with
        ``acs_copies`` stored copies whose ACS original is still to be deleted."""
        query = (
            select(StoredRecording.id)
            .where(or_(StoredRecording.state == PENDING, _acs_copy_left() if acs_copies else false()))
            .where(StoredRecording.available_at <= now)
            .where(leases.unleased(StoredRecording, now))
            .order_by(StoredRecording.id)
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def claim(self, row_id: int, now: datetime, lease: timedelta) -> bool:
        return leases.claim(self.session, StoredRecording, StoredRecording.id == row_id, now, lease)

    def get(self, row_id: int) -> StoredRecording:
        """The row, detached: a plain snapshot the unit of work's rollback does not expire."""
        row = self.session.get_one(StoredRecording, row_id)
        self.session.expunge(row)
        return row

    def update(self, row_id: int, now: datetime, **values: Any) -> None:
        query = update(StoredRecording).where(StoredRecording.id == row_id)
        self.session.execute(query.values(updated_at=now, **values))

    def retry_later(self, row_id: int, now: datetime, available_at: datetime, error: str) -> None:
        this = StoredRecording.id == row_id
        leases.release(self.session, StoredRecording, this, available_at, last_error=error, updated_at=now)

    def register(self, row_id: int, now: datetime, **values: Any) -> bool:
        """pending -> stored, once: False when another worker registered the row first."""
        changed = self.session.execute(
            update(StoredRecording)
            .where(StoredRecording.id == row_id, StoredRecording.state == PENDING)
            .values(state=STORED, stored_at=now, updated_at=now, last_error=None, **values)
        )
        return bool(getattr(changed, "rowcount", 0) == 1)

    # Holds and retention -----------------------------------------------------------------------------------

    def stored_of(self, call_id: str) -> list[StoredRecording]:
        query = select(StoredRecording).where(
            StoredRecording.call_id == call_id, StoredRecording.state == STORED
        )
        return list(self.session.scalars(query))

    def set_legal_hold(self, row_ids: list[int], value: str, now: datetime) -> None:
        if row_ids:
            query = update(StoredRecording).where(StoredRecording.id.in_(row_ids))
            self.session.execute(query.values(legal_hold=value, updated_at=now))

    def expired(self, region: str, stored_before: datetime) -> list[int]:
        """Stored rows of ``region`` stored before ``stored_before``."""
        query = (
            select(StoredRecording.id)
            .where(StoredRecording.state == STORED, StoredRecording.region == region)
            .where(StoredRecording.stored_at < stored_before)
        )
        return list(self.session.scalars(query))

    def deleted(self, row_id: int, now: datetime) -> None:
        self.update(row_id, now, state=DELETED, deleted_at=now)


def _acs_copy_left() -> ColumnElement[bool]:
    return (
        (StoredRecording.state == STORED)
        & (StoredRecording.mode == "copy")
        & StoredRecording.acs_deleted.is_(False)
        & StoredRecording.delete_location.is_not(None)
    )
