"""Recordings into region-pinned Blob storage: accept file events, transfer in the background, register.

``accept`` runs inside the webhook: one transaction de-duplicates the event (inbox), pins every chunk to its
call's region and queues one ``stored_recordings`` row per chunk (unique per recording id and chunk index).
A worker thread then takes queued rows under a lease (so a crash only delays them) and, per row: copies the
chunk (or, with bring-your-own-storage, finds and hashes the blob ACS wrote), verifies it, registers it as
``stored``, and only then deletes ACS's copy.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from recorder.config.storage import StorageMode, StorageRegion, StorageSettings, choose_region
from recorder.db.leases import lease_values, unleased
from recorder.db.tables.calls import Call, ConsentEntry
from recorder.db.tables.recording_requests import RecordingRequest
from recorder.db.tables.storage import StoredRecording
from recorder.db.unit_of_work import UnitOfWork
from recorder.observability import crashpoints, metrics
from recorder.services.retry import Backoff
from recorder.services.storage import transfer
from recorder.services.storage.blob_holds import apply_legal_hold
from recorder.services.storage.model import (
    CONTENT_TYPES,
    Accepted,
    RecordingChunk,
    RecordingFileEvent,
    StoreState,
    blob_name,
)
from recorder.services.storage.ports import BlobStore, RecordingSource, StorageError
from recorder.services.storage.register import StoredObserver, register
from recorder.services.worker_loop import WorkerLoop

log = logging.getLogger("recorder.storage")

METADATA_LIMIT = 1024 * 1024


@dataclass(eq=False)
class StorageService(WorkerLoop):
    unit_of_work: Callable[[], UnitOfWork]
    settings: StorageSettings
    stores: Mapping[str, BlobStore]
    source: RecordingSource
    clock: Callable[[], datetime]
    acs_resource_id: str | None = None
    events: StoredObserver | None = None  # publishes recorder.recording.stored (issue 9's EventLog)
    max_attempts: int = 8
    base_backoff: float = 1.0
    poll_interval: float = 1.0
    workers: int = 2

    def __post_init__(self) -> None:
        WorkerLoop.__init__(self, "storage", self.workers, self.poll_interval, log, clock=self.clock)

    # The one place a region becomes a container ---------------------------------------------------------

    def store_for(self, region: str, container: str) -> BlobStore:
        """``region``'s blob store; refuses when the row was pinned to a container no longer configured."""
        configured = self.settings.regions.get(region)
        if configured is None or configured.container != container:
            raise StorageError(
                f"region {region!r} no longer maps to container {container!r}; refusing to write elsewhere",
                transient=False,
            )
        return self.stores[region]

    def recording_destination(self, call_id: str) -> str | None:
        """Bring-your-own-storage: the container URL ACS must write this call's recording into (the
        call's region, chosen as for every other write); None in copy mode."""
        if self.settings.mode != StorageMode.BYOS:
            return None
        with self.unit_of_work() as uow:
            call = uow.session.get(Call, call_id)
            if call is None:
                return None
            region = self._region_of(uow, call)
        return self.store_for(region.name, region.container).location

    def _region_of(self, uow: UnitOfWork, call: Call) -> StorageRegion:
        requested = uow.session.scalar(
            select(RecordingRequest.region)
            .where(RecordingRequest.call_id == call.id, RecordingRequest.region.is_not(None))
            .order_by(RecordingRequest.created_at, RecordingRequest.id)
            .limit(1)
        )
        if requested is not None and requested not in self.settings.regions:
            log.warning("recording.unknown_requested_region", extra={"call_id": call.id, "region": requested})
        return choose_region(self.settings, call.caller, call.callee, self.acs_resource_id, requested)

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.lease_seconds)

    # Accepting an event (webhook thread) ----------------------------------------------------------------

    def accept(self, event: RecordingFileEvent) -> Accepted:
        now = self.clock()
        with self.unit_of_work() as uow:
            call = uow.session.scalars(
                select(Call)
                .where(Call.server_call_id == event.server_call_id)
                .order_by(Call.created_at.desc())
            ).first()
            if call is None:
                log.info("recording.unknown_call", extra={"event_id": event.event_id})
                return Accepted.UNKNOWN_CALL
            if not uow.inbox.add("eventgrid", event.event_id, "RecordingFileStatusUpdated", call.id, now):
                return Accepted.DUPLICATE
            region = self._region_of(uow, call)
            # Bring your own storage is what start_recording asked ACS for (recording_destination), never
            # what the event claims: its storageType is documented only loosely ("AzureBlob etc.").
            byos = self.settings.mode == StorageMode.BYOS
            recording_id = (
                event.recording_id or call.recording_id or f"document-{event.chunks[0].document_id}"
            )
            account_url = self.stores[region.name].location.rsplit("/", 1)[0]
            queued = []
            for chunk in event.chunks:
                values = _row_values(call, event, recording_id, chunk, region, account_url, byos, now)
                if _insert_new(uow, values):
                    queued.append(chunk.index)
            uow.audit.append(
                "eventgrid",
                "recording.file_received",
                call.id,
                {
                    "event_id": event.event_id,
                    "region": region.name,
                    "chunks": queued,
                    "byos": byos,
                    "storage_type": event.storage_type,
                },
                now,
            )
            uow.commit()
        log.info("recording.queued", extra={"call_id": call.id, "region": region.name, "chunks": len(queued)})
        self.wake()
        return Accepted.QUEUED

    # The worker (a WorkerLoop) ----------------------------------------------------------------------------

    def run_once(self) -> int:
        """Move every ready row forward, in parallel; returns how many were ready."""
        ready = self._ready_rows()
        for done in self._pool.map(self.process, ready):
            del done
        return len(ready)

    def run_until_idle(self, rounds: int = 50) -> None:
        """Process queued rows in this thread until none is ready (tests, CLI)."""
        for _ in range(rounds):
            ready = self._ready_rows()
            if not ready:
                return
            for row_id in ready:
                self.process(row_id)

    def _ready_rows(self, limit: int = 16) -> list[int]:
        now = self.clock()
        with self.unit_of_work() as uow:
            query = (
                select(StoredRecording.id)
                .where(or_(StoredRecording.state == StoreState.PENDING, self._acs_copy_left()))
                .where(StoredRecording.available_at <= now)
                .where(unleased(StoredRecording, now))
                .order_by(StoredRecording.id)
                .limit(limit)
            )
            return list(uow.session.scalars(query))

    def _acs_copy_left(self) -> Any:
        if not self.settings.delete_acs_copy:
            return False
        return (
            (StoredRecording.state == StoreState.STORED)
            & (StoredRecording.mode == "copy")
            & StoredRecording.acs_deleted.is_(False)
            & StoredRecording.delete_location.is_not(None)
        )

    def process(self, row_id: int) -> bool:
        """Take one row under a lease and move it forward; False when someone else holds it."""
        row = self._claim(row_id)
        if row is None:
            return False
        try:
            if row.state == StoreState.PENDING:
                stored = self._store(row)
                crashpoints.hit("storage.before_register")
                register(self, row, stored)
                row.state = StoreState.STORED
                metrics.recording_stored(stored.size, copied=row.mode == "copy")
                crashpoints.hit("storage.after_register")
            if self.settings.delete_acs_copy and row.mode == "copy" and row.delete_location:
                # only a stored row gets here: the blob was verified before it was registered
                self.source.delete(row.delete_location)
                crashpoints.hit("storage.after_acs_delete")
                self.update_row(row.id, acs_deleted=True, claimed_until=None)
                self._audit(row, "recording.acs_copy_deleted", {"chunk_index": row.chunk_index})
            else:
                self.update_row(row.id, claimed_until=None)
        except StorageError as exc:
            self._retry_or_fail(row, str(exc), transient=exc.transient)
        except Exception as exc:  # a bug or a crash-like failure must not wedge the queue
            log.exception("storage.transfer_crashed", extra={"row": row.id})
            self._retry_or_fail(row, repr(exc), transient=True)
        return True

    def _claim(self, row_id: int) -> StoredRecording | None:
        now = self.clock()
        with self.unit_of_work() as uow:
            claimed = uow.session.execute(
                update(StoredRecording)
                .where(StoredRecording.id == row_id)
                .where(unleased(StoredRecording, now))
                .values(**lease_values(StoredRecording, now, self.lease))
            )
            if getattr(claimed, "rowcount", 0) != 1:
                return None
            uow.commit()
            row = uow.session.get_one(StoredRecording, row_id)
            uow.session.expunge(row)  # a plain snapshot: the unit of work's rollback must not expire it
            return row

    def _store(self, row: StoredRecording) -> transfer.Transferred:
        store = self.store_for(row.region, row.container)
        metadata_base = self._metadata(row)
        if row.mode == "byos":
            from recorder.services.storage.byos import adopt_blob

            return adopt_blob(self, store, row, metadata_base)
        plan = transfer.TransferPlan(self.settings.block_size, self.settings.range_size)
        ext = row.blob_name.rsplit(".", 1)[-1]

        def describe(sha256: str, size: int) -> tuple[dict[str, str], dict[str, str]]:
            return {**metadata_base, "sha256": sha256, "size": str(size)}, self.tags_for(row, sha256)

        done = transfer.copy_chunk(
            self.source,
            store,
            row.content_location,
            row.blob_name,
            plan,
            content_type=CONTENT_TYPES.get(ext, "application/octet-stream"),
            describe=describe,
            progress=lambda staged: self.update_row(
                row.id, staged_bytes=staged, claimed_until=self.clock() + self.lease
            ),
        )
        if row.metadata_location:
            acs_metadata = self.source.read_small(row.metadata_location, METADATA_LIMIT)
            meta = {**metadata_base, "recording_sha256": done.sha256}
            transfer.store_small_once(store, row.metadata_blob, acs_metadata, "application/json", meta)
        return done

    def _retry_or_fail(self, row: StoredRecording, error: str, *, transient: bool) -> None:
        now = self.clock()
        delay = Backoff(self.base_backoff, max_attempts=self.max_attempts).delay(
            row.attempts, transient=transient
        )
        if delay is not None:
            self.update_row(
                row.id, available_at=now + timedelta(seconds=delay), claimed_until=None, last_error=error
            )
            log.warning("storage.retry", extra={"row": row.id, "attempts": row.attempts, "error": error})
            return
        if row.state == StoreState.PENDING:
            self.update_row(row.id, state=StoreState.FAILED, claimed_until=None, last_error=error)
        else:  # stored, but ACS's copy would not go: ACS drops it after 24 h anyway; try again tomorrow
            tomorrow = now + timedelta(days=1)
            self.update_row(row.id, available_at=tomorrow, claimed_until=None, last_error=error)
        self._audit(row, "recording.transfer_failed", {"chunk_index": row.chunk_index, "error": error})
        log.error("storage.failed", extra={"row": row.id, "error": error})

    def update_row(self, row_id: int, **values: Any) -> None:
        with self.unit_of_work() as uow:
            uow.session.execute(
                update(StoredRecording)
                .where(StoredRecording.id == row_id)
                .values(updated_at=self.clock(), **values)
            )
            uow.commit()

    def _audit(self, row: StoredRecording, action: str, data: dict[str, Any]) -> None:
        with self.unit_of_work() as uow:
            uow.audit.append(
                "recorder", action, row.call_id, {"recording_id": row.recording_id, **data}, self.clock()
            )
            uow.commit()

    def _metadata(self, row: StoredRecording) -> dict[str, str]:
        with self.unit_of_work() as uow:
            call = uow.session.get_one(Call, row.call_id)
            last_consent = uow.session.scalar(
                select(func.max(ConsentEntry.id)).where(ConsentEntry.call_id == row.call_id)
            )
            connection = call.call_connection_id or ""
        return {
            "call_id": row.call_id,
            "call_connection_id": connection,
            "server_call_id": row.server_call_id,
            "recording_id": row.recording_id,
            "chunk_index": str(row.chunk_index),
            "region": row.region,
            "ledger_ref": f"consent_ledger:call={row.call_id};through={last_consent or 0}",
        }

    def rename(self, row: StoredRecording, blob: str, metadata_blob: str) -> None:
        """Bring-your-own-storage: the blob is where ACS put it, not where we would have."""
        self.update_row(row.id, blob_name=blob, metadata_blob=metadata_blob)
        row.blob_name, row.metadata_blob = blob, metadata_blob

    def tags_for(self, row: StoredRecording, sha256: str) -> dict[str, str]:
        return {
            "call_id": row.call_id,
            "recording": hashlib.sha256(row.recording_id.encode()).hexdigest()[:32],
            "chunk": str(row.chunk_index),
            "region": row.region,
            "sha256": sha256,
        }

    def apply_legal_hold(self, call_id: str, on: bool) -> str:
        """Set or clear a Blob legal hold on the call's stored blobs (see ``blob_holds``)."""
        return apply_legal_hold(self, call_id, on)


def _row_values(
    call: Call,
    event: RecordingFileEvent,
    recording_id: str,
    chunk: RecordingChunk,
    region: StorageRegion,
    account_url: str,
    byos: bool,
    now: datetime,
) -> dict[str, Any]:
    """A new row for one chunk of the file event: pending, pinned to the call's region and container."""
    blob = blob_name(call.id, recording_id, chunk.index, event.format)
    return {
        "call_id": call.id,
        "server_call_id": call.server_call_id,
        "recording_id": recording_id,
        "chunk_index": chunk.index,
        "document_id": chunk.document_id,
        "mode": "byos" if byos else "copy",
        "region": region.name,
        "account_url": account_url,
        "container": region.container,
        "blob_name": blob,
        "metadata_blob": blob.rsplit(".", 1)[0] + ".metadata.json",
        "content_location": chunk.content_location,
        "metadata_location": chunk.metadata_location,
        "delete_location": chunk.delete_location,
        "state": StoreState.PENDING,
        "staged_bytes": 0,
        "acs_deleted": False,
        "attempts": 0,
        "event_id": event.event_id,
        "available_at": now,
        "created_at": now,
        "updated_at": now,
    }


def _insert_new(uow: UnitOfWork, values: dict[str, Any]) -> bool:
    """Insert the row unless that chunk is already queued (a redelivered event); True when inserted."""
    insert = pg_insert if uow.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(StoredRecording).values(**values).on_conflict_do_nothing()
    return uow.session.execute(statement.returning(StoredRecording.id)).first() is not None
