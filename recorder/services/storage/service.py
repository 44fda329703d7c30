"""Recordings into region-pinned Blob storage: the storage worker, and the service the rest of the code sees.

``accept`` (``intake.py``) runs inside the webhook and queues one row per chunk. The worker (a ``WorkerLoop``)
then takes queued rows under a lease (so a crash only delays them) and, per row: copies the chunk
(``transfer.py``; with bring-your-own-storage, ``byos.py`` finds and hashes the blob ACS wrote), verifies it,
registers it as ``stored`` (``register.py``), and only then deletes ACS's copy. Regions: ``regions.py``;
Blob legal holds: ``blob_holds.py``; retention: ``retention.py``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from recorder.config.storage import StorageSettings
from recorder.observability import crashpoints, metrics
from recorder.services.retry import Backoff
from recorder.services.storage import intake, transfer
from recorder.services.storage.blob_holds import apply_legal_hold
from recorder.services.storage.model import CONTENT_TYPES, Accepted, RecordingFileEvent, StoreState
from recorder.services.storage.ports import BlobStore, RecordingSource, StorageError
from recorder.services.storage.records import StorageUnitOfWork, StoredRow
from recorder.services.storage.regions import Regions
from recorder.services.storage.register import StoredObserver, register
from recorder.services.worker_loop import WorkerLoop

log = logging.getLogger("recorder.storage")

METADATA_LIMIT = 1024 * 1024


@dataclass(eq=False)
class StorageService(WorkerLoop):
    unit_of_work: Callable[[], StorageUnitOfWork]
    settings: StorageSettings
    stores: Mapping[str, BlobStore]
    source: RecordingSource
    clock: Callable[[], datetime]
    acs_resource_id: str | None = None
    events: StoredObserver | None = None  # publishes recorder.recording.stored (the EventLog)
    max_attempts: int = 8
    base_backoff: float = 1.0
    poll_interval: float = 1.0
    workers: int = 2

    def __post_init__(self) -> None:
        WorkerLoop.__init__(self, "storage", self.workers, self.poll_interval, log, clock=self.clock)
        self.regions = Regions(self.settings, self.stores, self.acs_resource_id)

    def store_for(self, region: str, container: str) -> BlobStore:
        return self.regions.store_for(region, container)

    def recording_destination(self, call_id: str) -> str | None:
        """Bring-your-own-storage: the container URL ACS must write this call's recording into."""
        with self.unit_of_work() as uow:
            return self.regions.destination(uow.storage, call_id)

    def accept(self, event: RecordingFileEvent) -> Accepted:
        with self.unit_of_work() as uow:
            accepted = intake.accept(uow, self.regions, event, self.clock())
        if accepted is Accepted.QUEUED:
            self.wake()
        return accepted

    def apply_legal_hold(self, call_id: str, on: bool) -> str:
        """Set or clear a Blob legal hold on the call's stored blobs (see ``blob_holds``)."""
        return apply_legal_hold(self, call_id, on)

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.lease_seconds)

    # The worker ------------------------------------------------------------------------------------------

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
        with self.unit_of_work() as uow:
            return uow.storage.ready(self.clock(), limit, acs_copies=self.settings.delete_acs_copy)

    def process(self, row_id: int) -> bool:
        """Take one row under a lease and move it forward; False when someone else holds it."""
        row = self._claim(row_id)
        if row is None:
            return False
        state = row.state
        try:
            if state == StoreState.PENDING:
                stored, blob = self._store(row)
                crashpoints.hit("storage.before_register")
                register(self, row, stored, blob)
                state = StoreState.STORED
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
            self._retry_or_fail(row, state, str(exc), transient=exc.transient)
        except Exception as exc:  # a bug or a crash-like failure must not wedge the queue
            log.exception("storage.transfer_crashed", extra={"row": row.id})
            self._retry_or_fail(row, state, repr(exc), transient=True)
        return True

    def _claim(self, row_id: int) -> StoredRow | None:
        with self.unit_of_work() as uow:
            if not uow.storage.claim(row_id, self.clock(), self.lease):
                return None
            uow.commit()
            return uow.storage.get(row_id)

    def _store(self, row: StoredRow) -> tuple[transfer.Transferred, str]:
        """Copy (or adopt) the chunk; returns what was stored and the blob it is in."""
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
        return done, row.blob_name

    def _retry_or_fail(self, row: StoredRow, state: str, error: str, *, transient: bool) -> None:
        now = self.clock()
        backoff = Backoff(self.base_backoff, max_attempts=self.max_attempts)
        delay = backoff.delay(row.attempts, transient=transient)
        if delay is not None:
            self._release(row.id, now + timedelta(seconds=delay), error)
            log.warning("storage.retry", extra={"row": row.id, "attempts": row.attempts, "error": error})
            return
        if state == StoreState.PENDING:
            self.update_row(row.id, state=StoreState.FAILED, claimed_until=None, last_error=error)
        else:  # stored, but ACS's copy would not go: ACS drops it after 24 h anyway; try again tomorrow
            self._release(row.id, now + timedelta(days=1), error)
        self._audit(row, "recording.transfer_failed", {"chunk_index": row.chunk_index, "error": error})
        log.error("storage.failed", extra={"row": row.id, "error": error})

    def _release(self, row_id: int, available_at: datetime, error: str) -> None:
        with self.unit_of_work() as uow:
            uow.storage.retry_later(row_id, self.clock(), available_at, error)
            uow.commit()

    def update_row(self, row_id: int, **values: Any) -> None:
        with self.unit_of_work() as uow:
            uow.storage.update(row_id, self.clock(), **values)
            uow.commit()

    def _audit(self, row: StoredRow, action: str, data: dict[str, Any]) -> None:
        with self.unit_of_work() as uow:
            uow.audit.append(
                "recorder", action, row.call_id, {"recording_id": row.recording_id, **data}, self.clock()
            )
            uow.commit()

    def _metadata(self, row: StoredRow) -> dict[str, str]:
        with self.unit_of_work() as uow:
            call = uow.storage.call(row.call_id)
            last_consent = uow.storage.last_consent(row.call_id)
        assert call is not None  # a row's call is never deleted
        return {
            "call_id": row.call_id,
            "call_connection_id": call.call_connection_id or "",
            "server_call_id": row.server_call_id,
            "recording_id": row.recording_id,
            "chunk_index": str(row.chunk_index),
            "region": row.region,
            "ledger_ref": f"consent_ledger:call={row.call_id};through={last_consent}",
        }

    def tags_for(self, row: StoredRow, sha256: str) -> dict[str, str]:
        return {
            "call_id": row.call_id,
            "recording": hashlib.sha256(row.recording_id.encode()).hexdigest()[:32],
            "chunk": str(row.chunk_index),
            "region": row.region,
            "sha256": sha256,
        }
