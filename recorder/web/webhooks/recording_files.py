"""Parsing ``Microsoft.Communication.RecordingFileStatusUpdated`` (Event Grid) into a typed event.

Every recording URL goes through ``recording_urls.checked_recording_url`` here, so a delivery naming any other
host (or a URL the transport could read differently) is refused with a 400 before anything is written; the
download adapter checks again before the SDK runs. That holds with bring-your-own-storage too: ACS documents
the chunk locations there as ACS URLs, and the blob it wrote is found by the call it belongs to
(``services/storage/byos.py``), never by a URL in the event.
"""

from __future__ import annotations

from typing import Any

from recorder.adapters.recording_urls import recording_url_problem
from recorder.services.storage.model import RecordingChunk, RecordingFileEvent
from recorder.web.webhooks.parsing import BadEvent, Envelope, text

MAX_CHUNKS = 1000
FORMATS = {"wav": "wav", "mp3": "mp3", "mp4": "mp4"}


def subject_ids(subject: str) -> tuple[str, str | None]:
    """``(serverCallId, recordingId)`` from ``/recording/call/{callId}/serverCallId/{id}[/recordingId/{id}]``
    (both documented forms; a server call id is base64 and may itself hold a "/")."""
    rest = subject.partition("/serverCallId/")[2]
    server_call_id, marker, recording_id = rest.rpartition("/recordingId/")
    if not marker:
        return rest, None
    return server_call_id, recording_id or None


def recording_file_event(envelope: Envelope) -> RecordingFileEvent:
    data = envelope.data
    subject_call, subject_recording = subject_ids(envelope.subject)
    server_call_id = subject_call or text(data, "serverCallId")
    info = data.get("recordingStorageInfo")
    raw_chunks = info.get("recordingChunks") if isinstance(info, dict) else None
    if not isinstance(raw_chunks, list) or not raw_chunks or len(raw_chunks) > MAX_CHUNKS:
        raise BadEvent(
            "missing_field", f"data.recordingStorageInfo.recordingChunks: 1 to {MAX_CHUNKS} chunks"
        )
    chunks = tuple(_chunk(c, i) for i, c in enumerate(raw_chunks))
    if len({c.index for c in chunks}) != len(chunks):
        raise BadEvent("invalid_field", "recordingChunks: chunk indexes repeat")
    fmt = str(data.get("recordingFormatType") or "wav").lower()
    if fmt not in FORMATS:
        raise BadEvent("invalid_field", "data.recordingFormatType must be Wav, Mp3 or Mp4")
    return RecordingFileEvent(
        event_id=envelope.id,
        server_call_id=server_call_id,
        recording_id=text(data, "recordingId", required=False) or subject_recording,
        format=FORMATS[fmt],
        chunks=chunks,
        storage_type=(text(data, "storageType", required=False)[:64] or None),
        start_time=text(data, "recordingStartTime", required=False) or None,
    )


def _chunk(raw: Any, i: int) -> RecordingChunk:
    where = f"recordingChunks[{i}]"
    if not isinstance(raw, dict):
        raise BadEvent("invalid_event", f"{where} is not an object")
    index = raw.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 100_000:
        raise BadEvent("invalid_field", f"{where}.index must be a whole number")
    document_id = text(raw, "documentId")
    if len(document_id) > 256:
        raise BadEvent("invalid_field", f"{where}.documentId is too long")
    content = text(raw, "contentLocation")
    metadata = text(raw, "metadataLocation", required=False) or None
    delete = text(raw, "deleteLocation", required=False) or None
    for name, url in (
        ("contentLocation", content),
        ("metadataLocation", metadata),
        ("deleteLocation", delete),
    ):
        if url is not None:
            problem = _url_problem(url)
            if problem:
                raise BadEvent("invalid_recording_url", f"{where}.{name}: {problem}")
    return RecordingChunk(document_id, index, content, metadata, delete)


def _url_problem(url: str) -> str | None:
    if len(url) > 4096:
        return "too long"
    return recording_url_problem(url)
