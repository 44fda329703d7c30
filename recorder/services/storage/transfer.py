"""Streaming one recording chunk from ACS into a region's container, in constant memory.

The file is read in ranges, cut into fixed-size blocks, hashed (sha256) on the way and staged with a few
uploads in flight; the blob only exists once the block list is committed, conditionally (never over an
existing blob). An interrupted transfer leaves uncommitted blocks with deterministic ids: the next attempt
keeps the full ones it finds, re-reads that prefix from ACS only to hash it, and stages the rest.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from recorder.observability import crashpoints
from recorder.services.storage.ports import BlobExists, BlobStore, RecordingSource, StorageError

log = logging.getLogger("recorder.transfer")

Describe = Callable[[str, int], tuple[Mapping[str, str], Mapping[str, str]]]


@dataclass(frozen=True)
class Transferred:
    sha256: str
    size: int
    url: str
    resumed_from: int  # bytes found already staged by an earlier attempt


@dataclass(frozen=True)
class TransferPlan:
    block_size: int
    range_size: int
    upload_workers: int = 4


def block_id(index: int) -> str:
    """Fixed-length ids, as Azure requires within one blob; the same index always gets the same id."""
    return f"block-{index:010d}"


def copy_chunk(
    source: RecordingSource,
    store: BlobStore,
    content_url: str,
    blob_name: str,
    plan: TransferPlan,
    *,
    content_type: str,
    describe: Describe,
    progress: Callable[[int], None] = lambda staged: None,
) -> Transferred:
    """Copy one ACS recording file into ``blob_name``; returns once the blob is committed and verified."""
    staged = dict(store.staged_blocks(blob_name))
    resume_blocks = 0
    while staged.get(block_id(resume_blocks)) == plan.block_size:
        resume_blocks += 1
    resume_at = resume_blocks * plan.block_size
    hasher = hashlib.sha256()
    with ThreadPoolExecutor(plan.upload_workers, thread_name_prefix="stage") as pool:
        stager = BlockStager(store, blob_name, plan, pool, [block_id(i) for i in range(resume_blocks)])
        try:
            total = _stream(source, content_url, plan, resume_at, hasher, stager, progress)
            stager.finish()
        finally:
            stager.cancel()
    block_ids = stager.block_ids

    digest = hasher.hexdigest()
    metadata, tags = describe(digest, total)
    try:
        store.commit_new(blob_name, block_ids, content_type=content_type, metadata=metadata, tags=tags)
    except BlobExists:
        log.info("transfer.already_committed", extra={"blob": blob_name})
    url = verify(store, blob_name, digest, total)
    return Transferred(digest, total, url, resume_at)


class BlockStager:
    """Stages a stream as fixed-size blocks, with at most ``plan.upload_workers`` uploads in flight."""

    def __init__(
        self,
        store: BlobStore,
        blob_name: str,
        plan: TransferPlan,
        pool: ThreadPoolExecutor,
        block_ids: list[str],
    ) -> None:
        self._store, self._blob_name, self._plan, self._pool = store, blob_name, plan, pool
        self.block_ids = block_ids  # the blocks kept from an interrupted attempt come first
        self._buffer = bytearray()
        self._in_flight: deque[Future[None]] = deque()

    def add(self, data: bytes | memoryview) -> None:
        self._buffer.extend(data)
        size = self._plan.block_size
        while len(self._buffer) >= size:
            self._stage(bytes(self._buffer[:size]))
            del self._buffer[:size]

    def staged_bytes(self) -> int:
        return (len(self.block_ids) - len(self._in_flight)) * self._plan.block_size

    def finish(self) -> None:
        if self._buffer:
            self._stage(bytes(self._buffer))
            self._buffer = bytearray()
        while self._in_flight:
            self._in_flight.popleft().result()

    def cancel(self) -> None:
        for future in self._in_flight:
            future.cancel()

    def _stage(self, data: bytes) -> None:
        name = block_id(len(self.block_ids))
        self.block_ids.append(name)
        while len(self._in_flight) >= self._plan.upload_workers:
            self._in_flight.popleft().result()
            crashpoints.hit("transfer.after_block_staged")  # some blocks staged, more to come
        self._in_flight.append(self._pool.submit(self._store.stage_block, self._blob_name, name, data))


def _stream(
    source: RecordingSource,
    content_url: str,
    plan: TransferPlan,
    resume_at: int,
    hasher: hashlib._Hash,
    stager: BlockStager,
    progress: Callable[[int], None],
) -> int:
    """Read the file in ranges, hash all of it, stage what lies past ``resume_at``; returns its size."""
    position, total = 0, -1
    while total < 0 or position < total:
        end = position + plan.range_size - 1
        size, chunks = source.read_range(content_url, position, end if total < 0 else min(end, total - 1))
        if total >= 0 and size != total:
            raise StorageError("the recording changed size during the transfer", transient=True)
        total = size
        for chunk in chunks:
            hasher.update(chunk)
            skip = max(0, min(len(chunk), resume_at - position))
            position += len(chunk)
            if skip < len(chunk):
                stager.add(memoryview(chunk)[skip:])
        if total == 0:
            break
        progress(max(resume_at, stager.staged_bytes()))
    if position != total:
        raise StorageError(f"read {position} bytes of {total}", transient=True)
    return total


def verify(store: BlobStore, blob_name: str, sha256: str, size: int) -> str:
    """The committed blob is the one we hashed: its size and recorded sha256 match, or we refuse it."""
    info = store.info(blob_name)
    if info is None:
        raise StorageError(f"blob {blob_name} is missing after commit", transient=True)
    if info.size != size or info.metadata.get("sha256") != sha256:
        raise StorageError(
            f"blob {blob_name} exists with other content (size {info.size}, not {size}); left untouched",
            transient=False,
        )
    return info.url


def store_small_once(
    store: BlobStore, blob_name: str, data: bytes, content_type: str, metadata: Mapping[str, str]
) -> str:
    """Write a small blob (the ACS metadata JSON) once; an identical earlier copy is fine."""
    sha256 = hashlib.sha256(data).hexdigest()
    with contextlib.suppress(BlobExists):  # an earlier attempt wrote it: verify() compares the content
        store.put_new(blob_name, data, content_type=content_type, metadata={**metadata, "sha256": sha256})
    return verify(store, blob_name, sha256, len(data))


def hash_blob(store: BlobStore, blob_name: str, chunk_size: int) -> tuple[str, int]:
    """sha256 and size of a blob already in the container (bring-your-own-storage), read as a stream."""
    hasher, size = hashlib.sha256(), 0
    for chunk in store.read(blob_name, chunk_size):
        hasher.update(chunk)
        size += len(chunk)
    return hasher.hexdigest(), size
