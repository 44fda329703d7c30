"""What the storage service needs from its unit of work: the stored-recordings queue, the facts of the call a
recording belongs to, the inbox, the audit trail, published events and legal holds. ``db/`` implements it
(``db/repositories/storage.py``); the unit tests, in memory."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from recorder.domain.model import CallState
from recorder.services.calls.ports import Audit, CallRow, EventRows, Inbox, UnitOfWork


class StoredRow(Protocol):
    """One chunk's row as the storage worker reads it (a snapshot: changes go through ``StorageRecords``)."""

    id: int
    call_id: str
    server_call_id: str
    recording_id: str
    chunk_index: int
    document_id: str
    mode: str  # "copy" or "byos"
    region: str
    container: str
    blob_name: str
    metadata_blob: str
    content_location: str
    metadata_location: str | None
    delete_location: str | None
    state: str
    sha256: str | None
    attempts: int
    created_at: datetime


class StorageRecords(Protocol):
    """The stored-recordings queue and the call facts it needs (``db/repositories/storage.py``)."""

    def call(self, call_id: str) -> CallRow | None: ...

    def call_of_server_call(self, server_call_id: str) -> CallRow | None: ...

    def requested_region(self, call_id: str) -> str | None: ...

    def last_consent(self, call_id: str) -> int: ...

    def queue(self, values: dict[str, Any]) -> bool:
        """Queue a chunk unless it is queued already; True when queued now."""
        ...

    def ready(self, now: datetime, limit: int, *, acs_copies: bool) -> list[int]: ...

    def claim(self, row_id: int, now: datetime, lease: timedelta) -> bool: ...

    def get(self, row_id: int) -> StoredRow: ...

    def update(self, row_id: int, now: datetime, **values: Any) -> None: ...

    def retry_later(self, row_id: int, now: datetime, available_at: datetime, error: str) -> None: ...

    def register(self, row_id: int, now: datetime, **values: Any) -> bool:
        """pending -> stored, once: False when another worker registered the row first."""
        ...

    def stored_of(self, call_id: str) -> Sequence[StoredRow]: ...

    def set_legal_hold(self, row_ids: list[int], value: str, now: datetime) -> None: ...

    def expired(self, region: str, stored_before: datetime) -> list[int]: ...

    def deleted(self, row_id: int, now: datetime) -> None: ...


class Holds(Protocol):
    def is_on_hold(self, call_id: str) -> bool: ...


class StorageUnitOfWork(UnitOfWork, Protocol):
    @property
    def storage(self) -> StorageRecords: ...

    @property
    def calls(self) -> StoredCalls: ...

    @property
    def inbox(self) -> Inbox: ...

    @property
    def audit(self) -> Audit: ...

    @property
    def events(self) -> EventRows: ...

    @property
    def holds(self) -> Holds: ...


class StoredCalls(Protocol):
    def get(self, call_id: str, *, lock: bool = False) -> CallState | None: ...
