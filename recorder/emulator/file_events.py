"""``Microsoft.Communication.RecordingFileStatusUpdated`` (Event Grid schema), as documented.

Without bring-your-own-storage: the Event Grid event reference (``articles/event-grid/communication-services-
voice-video-events.md``): subject ``/recording/call/{callId}/serverCallId/{serverCallId}/recordingId/
{recordingId}``, chunks with ``contentLocation``/``metadataLocation``/``deleteLocation`` on ACS's recording
host, and the kinds (``recordingContentType`` Audio/AudioVideo, ``recordingChannelType`` Mixed/Unmixed,
``recordingFormatType`` Wav/Mp3/Mp4) as the system-event schema names them. With bring-your-own-storage: the
BYOS quickstart's shape: subject ``/recording/call/{callId}/serverCallId/{serverCallId}``, plus
``storageType`` and ``recordingId``, and the chunk locations still ACS URLs -- the blob's own URL is never in
the event.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from recorder.emulator import events

if TYPE_CHECKING:
    from recorder.emulator.recording_files import RecordingFile

RECORDING_HOST = "https://us-storage.asm.skype.com"
FILE_EVENT = "RecordingFileStatusUpdated"
KIND_NAMES = {
    "audio": "Audio",
    "audioVideo": "AudioVideo",
    "mixed": "Mixed",
    "unmixed": "Unmixed",
    "wav": "Wav",
    "mp3": "Mp3",
    "mp4": "Mp4",
}


def chunk_model(file: RecordingFile) -> dict[str, Any]:
    base = f"{RECORDING_HOST}/v1/objects/{file.document_id}"
    return {
        "documentId": file.document_id,
        "index": file.index,
        "endReason": file.end_reason,
        "contentLocation": f"{base}/content/{file.content_kind}",
        "metadataLocation": f"{base}/content/acsmetadata",
        "deleteLocation": base,
    }


def file_event(
    chunks: Sequence[RecordingFile], acs_call_id: str, started_at: datetime, byos_storage_type: str | None
) -> dict[str, Any]:
    """One event announcing ``chunks`` (one recording); ``byos_storage_type`` set means BYOS."""
    first = chunks[0]
    data: dict[str, Any] = {
        "recordingStorageInfo": {"recordingChunks": [chunk_model(chunk) for chunk in chunks]},
        "recordingStartTime": events.timestamp(started_at),
        "recordingDurationMs": sum(chunk.duration_ms() for chunk in chunks),
        "recordingContentType": KIND_NAMES[first.content_type],
        "recordingChannelType": KIND_NAMES[first.channel_type],
        "recordingFormatType": KIND_NAMES[first.format_type],
        "sessionEndReason": "CallEnded",
    }
    subject = f"/recording/call/{acs_call_id}/serverCallId/{first.server_call_id}"
    if byos_storage_type is not None:
        data = {"storageType": byos_storage_type, "recordingId": first.recording_id, **data}
    else:
        subject += f"/recordingId/{first.recording_id}"
    return {
        "id": str(uuid.uuid4()),
        "topic": events.EVENTGRID_TOPIC,
        "subject": subject,
        "data": data,
        "eventType": events.EVENT_PREFIX + FILE_EVENT,
        "dataVersion": "1.0",
        "metadataVersion": "1",
        "eventTime": events.timestamp(),
    }
