"""Accepting a RecordingFileStatusUpdated event, inside the webhook: one transaction de-duplicates the event
(inbox), pins every chunk to its call's region and queues one row per chunk (unique per recording id and
chunk index), audited. The transfer runs later, on the storage worker."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from recorder.config.storage import StorageMode, StorageRegion
from recorder.services.calls.ports import CallRow
from recorder.services.storage.model import (
    Accepted,
    RecordingChunk,
    RecordingFileEvent,
    StoreState,
    blob_name,
)
from recorder.services.storage.records import StorageUnitOfWork
from recorder.services.storage.regions import Regions

log = logging.getLogger("recorder.storage")


def accept(uow: StorageUnitOfWork, regions: Regions, event: RecordingFileEvent, now: datetime) -> Accepted:
    """Queue the event's chunks in ``uow`` and commit it."""
    call = uow.storage.call_of_server_call(event.server_call_id)
    if call is None:
        log.info("recording.unknown_call", extra={"event_id": event.event_id})
        return Accepted.UNKNOWN_CALL
    if not uow.inbox.add("eventgrid", event.event_id, "RecordingFileStatusUpdated", call.id, now):
        return Accepted.DUPLICATE
    region = regions.region_of(uow.storage, call)
    # Bring your own storage is what start_recording asked ACS for (Regions.destination), never what the
    # event claims: its storageType is documented only loosely ("AzureBlob etc.").
    byos = regions.settings.mode == StorageMode.BYOS
    recording_id = event.recording_id or call.recording_id or f"document-{event.chunks[0].document_id}"
    account_url = regions.stores[region.name].location.rsplit("/", 1)[0]
    queued = []
    for chunk in event.chunks:
        if uow.storage.queue(_row_values(call, event, recording_id, chunk, region, account_url, byos, now)):
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
    return Accepted.QUEUED


def _row_values(
    call: CallRow,
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
