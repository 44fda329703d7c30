"""What the storage service needs from the outside: a region's blob container and ACS's recording files
(its unit of work is in ``records.py``).

Adapters (``recorder/adapters/blob_store.py``, ``recording_download.py``) implement these over the Azure SDKs;
SDK errors are translated into the errors below there and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from recorder.services.errors import PortError


class StorageError(PortError):
    """A storage or download operation failed; ``transient`` says whether trying again may help."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status


class BlobExists(StorageError):
    """A conditional create found the blob already there (another attempt, or a duplicate event)."""

    def __init__(self, blob_name: str) -> None:
        super().__init__(f"blob {blob_name} already exists", transient=False, status=409)


class RecordingUrlRejected(StorageError):
    def __init__(self, problem: str) -> None:
        super().__init__(f"recording URL rejected: {problem}", transient=False)


@dataclass(frozen=True)
class BlobInfo:
    name: str
    url: str
    size: int
    metadata: Mapping[str, str]
    tags: Mapping[str, str] | None = None


class BlobStore(Protocol):
    """One region's container. Every method acts on that container only."""

    @property
    def location(self) -> str:
        """Account URL and container, with no credential in it."""
        ...

    def ensure_container(self) -> None: ...

    def url_of(self, blob_name: str) -> str: ...

    def staged_blocks(self, blob_name: str) -> list[tuple[str, int]]:
        """Uncommitted blocks of ``blob_name`` as (block id, size): what an interrupted upload left."""
        ...

    def stage_block(self, blob_name: str, block_id: str, data: bytes) -> None: ...

    def commit_new(
        self,
        blob_name: str,
        block_ids: list[str],
        *,
        content_type: str,
        metadata: Mapping[str, str],
        tags: Mapping[str, str],
    ) -> None:
        """Commit the blocks as a new blob; ``BlobExists`` if the blob is already there."""
        ...

    def put_new(self, blob_name: str, data: bytes, *, content_type: str, metadata: Mapping[str, str]) -> None:
        """Write a small blob only if it does not exist; ``BlobExists`` otherwise."""
        ...

    def info(self, blob_name: str) -> BlobInfo | None: ...

    def set_tags_and_metadata(
        self, blob_name: str, metadata: Mapping[str, str], tags: Mapping[str, str]
    ) -> None: ...

    def read(self, blob_name: str, chunk_size: int) -> Iterator[bytes]: ...

    def read_small(self, blob_name: str, limit: int) -> bytes: ...

    def list_names(self, prefix: str) -> list[str]: ...

    def delete(self, blob_name: str) -> bool:
        """Delete the blob; False when it was not there."""
        ...

    def set_legal_hold(self, blob_name: str, on: bool) -> bool:
        """Set or clear a legal hold; False when the account does not support it (Azurite: 501)."""
        ...


class RecordingSource(Protocol):
    """ACS's copy of recording files, reached through the Call Automation SDK."""

    def read_range(self, url: str, start: int, end: int) -> tuple[int, Iterator[bytes]]:
        """Bytes ``start..end`` (inclusive) of the file and the file's total size."""
        ...

    def read_small(self, url: str, limit: int) -> bytes: ...

    def delete(self, url: str) -> None: ...
