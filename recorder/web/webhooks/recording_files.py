"""Parsing ``Microsoft.Communication.RecordingFileStatusUpdated`` (Event Grid) into a typed event.

Every recording URL goes through ``recording_urls.checked_recording_url`` here, so a delivery naming any other
host (or a URL the transport could read differently) is refused with a 400 before anything is written; the
download adapter checks again before the SDK runs. That holds with bring-your-own-storage too: ACS documents
the chunk locations there as ACS URLs, and the blob it wrote is found by the call it belongs to
(``services/storage/byos.py``), never by a URL in the event.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo

from recorder.adapters.recording_urls import recording_url_problem
from recorder.services.storage.model import RecordingChunk, RecordingFileEvent
from recorder.web.webhooks.parsing import BadEvent, Envelope, Payload, Text, data_as

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


def _optional(value: Any) -> Any:
    """Read when a non-empty string, absent otherwise, as the service always has."""
    return value if isinstance(value, str) and value else None


def _url(value: str | None, info: ValidationInfo) -> str | None:
    if value is not None:
        problem = "too long" if len(value) > 4096 else recording_url_problem(value)
        if problem:
            raise BadEvent("invalid_recording_url", f"{info.field_name}: {problem}")
    return value


def _document_id(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 256:
        raise BadEvent("invalid_field", "documentId is too long")
    return value


def _index(value: Any) -> Any:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 100_000:
        raise BadEvent("invalid_field", "index must be a whole number")
    return value


Optional = Annotated[str | None, BeforeValidator(_optional)]
RecordingUrl = Annotated[str, AfterValidator(_url)]
OptionalUrl = Annotated[str | None, BeforeValidator(_optional), AfterValidator(_url)]


class Chunk(Payload):
    """One file of the recording: where ACS keeps it (every URL on ACS's allow-list, or the delivery is a
    400 before anything is written)."""

    index: Annotated[int, BeforeValidator(_index)]
    documentId: Annotated[Text, BeforeValidator(_document_id)]
    contentLocation: RecordingUrl
    metadataLocation: OptionalUrl = None
    deleteLocation: OptionalUrl = None


def _chunks(value: Any) -> Any:
    if not isinstance(value, dict):
        value = {}
    chunks = value.get("recordingChunks")
    if not isinstance(chunks, list) or not chunks or len(chunks) > MAX_CHUNKS:
        raise BadEvent(
            "missing_field", f"data.recordingStorageInfo.recordingChunks: 1 to {MAX_CHUNKS} chunks"
        )
    return [_chunk(raw, i) for i, raw in enumerate(chunks)]


def _chunk(raw: Any, i: int) -> Chunk:
    where = f"recordingChunks[{i}]"
    if not isinstance(raw, dict):
        raise BadEvent("invalid_event", f"{where} is not an object")
    try:
        return data_as(Chunk, raw)
    except BadEvent as exc:
        field = str(exc).removeprefix("data.")
        raise BadEvent(exc.code, f"{where}.{field}") from None


def _format(value: Any) -> Any:
    fmt = str(value or "wav").lower()
    if fmt not in FORMATS:
        raise BadEvent("invalid_field", "data.recordingFormatType must be Wav, Mp3 or Mp4")
    return FORMATS[fmt]


class RecordingFileData(Payload):
    """Event Grid's RecordingFileStatusUpdated: the recording's files, ready to be fetched."""

    recordingStorageInfo: Annotated[list[Chunk], BeforeValidator(_chunks)] = Field(
        default=None, validate_default=True, description="where the chunks are (absent: a 400)"
    )
    recordingFormatType: Annotated[str, BeforeValidator(_format)] = "wav"
    serverCallId: Optional = None
    recordingId: Optional = None
    storageType: Optional = None
    recordingStartTime: Optional = None


def recording_file_event(envelope: Envelope) -> RecordingFileEvent:
    data = data_as(RecordingFileData, envelope.data)
    subject_call, subject_recording = subject_ids(envelope.subject)
    server_call_id = subject_call or data.serverCallId
    if not server_call_id:
        raise BadEvent("missing_field", "data.serverCallId is missing or not a string")
    chunks = data.recordingStorageInfo
    if len({c.index for c in chunks}) != len(chunks):
        raise BadEvent("invalid_field", "recordingChunks: chunk indexes repeat")
    return RecordingFileEvent(
        event_id=envelope.id,
        server_call_id=server_call_id,
        recording_id=data.recordingId or subject_recording,
        format=data.recordingFormatType,
        chunks=tuple(
            RecordingChunk(c.documentId, c.index, c.contentLocation, c.metadataLocation, c.deleteLocation)
            for c in chunks
        ),
        storage_type=data.storageType[:64] if data.storageType else None,
        start_time=data.recordingStartTime,
    )
