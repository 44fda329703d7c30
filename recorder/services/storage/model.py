"""The storage feature's vocabulary: file events as the webhook parses them, row states, blob names."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum

CONTENT_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "mp4": "video/mp4"}


class StoreState(StrEnum):
    PENDING = "pending"
    STORED = "stored"
    FAILED = "failed"
    DELETED = "deleted"


@dataclass(frozen=True)
class RecordingChunk:
    document_id: str
    index: int
    content_location: str
    metadata_location: str | None
    delete_location: str | None


@dataclass(frozen=True)
class RecordingFileEvent:
    event_id: str
    server_call_id: str
    recording_id: str | None
    format: str  # wav, mp3, mp4
    chunks: tuple[RecordingChunk, ...]
    storage_type: str | None = None  # as the event says, audited only: BYOS is what the service asked for
    start_time: str | None = None


class Accepted(StrEnum):
    QUEUED = "queued"
    DUPLICATE = "duplicate"
    UNKNOWN_CALL = "unknown_call"


def blob_name(call_id: str, recording_id: str, chunk_index: int, fmt: str) -> str:
    """Deterministic per (recording, chunk): a duplicate event or a retry always aims at the same blob."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", recording_id)[:96]
    digest = hashlib.sha256(recording_id.encode()).hexdigest()[:12]
    return f"{call_id}/{safe}-{digest}/chunk-{chunk_index:04d}.{fmt}"
