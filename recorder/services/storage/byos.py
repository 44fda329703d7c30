"""Bring your own storage: ACS wrote the chunk into the region's container; find it, verify, hash, tag it.

ACS's event names no blob: its chunk locations are ACS URLs, like without BYOS. What binds a blob to a call is
where ACS documents it writes (BYOS quickstart, "Folder Structure for Call Recording"):
``YYYYMMDD/<callId>/<first 8 of recordingId>-<guid>/<chunk>-<kind>.<documentId>.<format>`` plus
``<chunk>-acsmetadata.<documentId>.json``. So the blob is looked up in the container the call is pinned to,
under the ACS call id (correlation id) and recording this service started for that call -- a forged event
can neither point at another blob nor make another call's blob ours. It is read with our own storage
credential only, never the ACS one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

from recorder.services.calls.ports import CallRow
from recorder.services.storage import transfer
from recorder.services.storage.ports import BlobStore, StorageError
from recorder.services.storage.records import StorageUnitOfWork, StoredRow

READ_CHUNK = 4 * 1024 * 1024
DAYS_BACK = 3  # a recording can start up to a day or two before its file is announced
GUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"


def _unbound(reason: str) -> StorageError:
    return StorageError(f"cannot tie the recording to its call: {reason}", transient=False)


def call_folder_pattern(
    correlation_id: str, recording_id: str, chunk_index: int, document_id: str
) -> re.Pattern[str]:
    """The names ACS gives one chunk of one recording of one call (any day); group 1 is the media blob."""
    folder = rf"\d{{8}}/{re.escape(correlation_id)}/{re.escape(recording_id[:8])}-{GUID}"
    return re.compile(
        rf"({folder}/{chunk_index}-[a-z0-9]+\.{re.escape(document_id)}\.(?:wav|mp3|mp4))"
        rf"|({folder}/{chunk_index}-acsmetadata\.{re.escape(document_id)}\.json)"
    )


def find_acs_blobs(store: BlobStore, call: CallRow, row: StoredRow) -> tuple[str, str | None]:
    """(media blob, metadata blob or None) that ACS wrote for ``row``'s chunk of ``call``'s recording."""
    if not call.correlation_id:
        raise _unbound("the call's ACS call id (correlation id) is unknown")
    if not call.recording_id or row.recording_id != call.recording_id:
        raise _unbound("the event names a recording this service did not start for the call")
    pattern = call_folder_pattern(call.correlation_id, call.recording_id, row.chunk_index, row.document_id)
    media: set[str] = set()
    metadata: set[str] = set()
    for back in range(DAYS_BACK):
        day = (row.created_at - timedelta(days=back)).strftime("%Y%m%d")
        for name in store.list_names(f"{day}/{call.correlation_id}/"):
            found = pattern.fullmatch(name)
            if found:
                (media if found.group(1) else metadata).add(name)
    if not media:
        raise StorageError(
            f"ACS has not written chunk {row.chunk_index} of the recording yet", transient=True
        )
    if len(media) > 1:
        raise _unbound(f"{len(media)} blobs claim chunk {row.chunk_index}")
    (name,) = media
    folder = name.rsplit("/", 1)[0]
    return name, next((m for m in metadata if m.rsplit("/", 1)[0] == folder), None)


class Adopter(Protocol):
    """What adopting ACS's blob needs of the storage service."""

    @property
    def unit_of_work(self) -> Callable[[], StorageUnitOfWork]: ...

    def tags_for(self, row: StoredRow, sha256: str) -> dict[str, str]: ...

    def update_row(self, row_id: int, **values: Any) -> None: ...


def adopt_blob(
    service: Adopter, store: BlobStore, row: StoredRow, metadata: dict[str, str]
) -> tuple[transfer.Transferred, str]:
    """Find, hash, tag and verify the blob ACS wrote for ``row``; the row then names it (the blob is where ACS
    put it, not where we would have). Returns what was stored and its blob name."""
    with service.unit_of_work() as uow:
        call = uow.storage.call(row.call_id)
    if call is None:
        raise _unbound("the call is gone")
    name, metadata_blob = find_acs_blobs(store, call, row)
    sha256, size = transfer.hash_blob(store, name, READ_CHUNK)
    store.set_tags_and_metadata(
        name, {**metadata, "sha256": sha256, "size": str(size)}, service.tags_for(row, sha256)
    )
    url = transfer.verify(store, name, sha256, size)
    service.update_row(row.id, blob_name=name, metadata_blob=metadata_blob or row.metadata_blob)
    return transfer.Transferred(sha256, size, url, 0), name
