"""Bring your own storage: ACS wrote the chunk into the region's container; find it, verify, hash, tag it.

The event's contentLocation names the blob. It must lie in the container the call was pinned to: anything
else is refused (never fetched, never registered). The blob is read with our own storage credential only,
never with the ACS one, so a forged location cannot leak a credential.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from recorder.services import transfer
from recorder.services.storage_ports import BlobStore, StorageError

if TYPE_CHECKING:
    from recorder.db.storage_tables import StoredRecording
    from recorder.services.storage import StorageService

READ_CHUNK = 4 * 1024 * 1024


def blob_name_in(store: BlobStore, url: str) -> str:
    """The blob name of ``url`` when it is inside ``store``'s container; StorageError otherwise."""
    container = urlsplit(store.location)
    target = urlsplit(url)
    prefix = container.path.rstrip("/") + "/"
    same_host = (target.scheme, target.netloc.lower()) == (container.scheme, container.netloc.lower())
    if not same_host or not target.path.startswith(prefix) or target.query:
        raise StorageError("the recording is not in the container its call is pinned to", transient=False)
    name = unquote(target.path[len(prefix) :])
    if not name or ".." in name.split("/"):
        raise StorageError("the recording location names no blob", transient=False)
    return name


def adopt_blob(
    service: StorageService, store: BlobStore, row: StoredRecording, metadata: dict[str, str]
) -> transfer.Transferred:
    name = blob_name_in(store, row.content_location)
    if store.info(name) is None:
        raise StorageError(f"blob {name} is not there (yet)", transient=True)
    sha256, size = transfer.hash_blob(store, name, READ_CHUNK)
    store.set_tags_and_metadata(
        name, {**metadata, "sha256": sha256, "size": str(size)}, service.tags_for(row, sha256)
    )
    url = transfer.verify(store, name, sha256, size)
    metadata_blob = row.metadata_blob
    if row.metadata_location:
        metadata_blob = blob_name_in(store, row.metadata_location)
    service.rename(row, name, metadata_blob)
    return transfer.Transferred(sha256, size, url, 0)
