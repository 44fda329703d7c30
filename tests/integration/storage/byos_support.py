"""Bring-your-own-storage as ACS documents it: the event (ACS URLs only) and the blobs ACS writes
(``YYYYMMDD/<callId>/<first 8 of recordingId>-<guid>/<chunk>-<kind>.<documentId>.<ext>``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update

from recorder.db.tables.calls import Call
from recorder.services.storage.model import RecordingFileEvent
from recorder.web.webhooks.parsing import envelopes
from recorder.web.webhooks.recording_files import recording_file_event
from tests.integration.storage.harness import Harness

ACS_HOST = "https://us-storage.asm.skype.com"


@dataclass(frozen=True)
class ByosCall:
    call_id: str
    server_call_id: str
    correlation_id: str  # ACS's call id: the folder ACS writes into
    recording_id: str  # what start_recording returned to the service


def byos_call(harness: Harness, caller: str) -> ByosCall:
    """A call whose recording the service started (so it knows the recording id and ACS call id)."""
    call_id, server_call_id = harness.add_call(caller)
    correlation_id, recording_id = str(uuid.uuid4()), f"eyJQbGF0{uuid.uuid4().hex}"
    with harness.sessions() as session:
        session.execute(
            update(Call)
            .where(Call.id == call_id)
            .values(correlation_id=correlation_id, recording_id=recording_id)
        )
        session.commit()
    return ByosCall(call_id, server_call_id, correlation_id, recording_id)


def documented_event(
    call: ByosCall,
    document_id: str,
    *,
    storage_type: str | None = "AzureBlob",
    recording_id: str | None = None,
) -> dict[str, Any]:
    """The BYOS quickstart's RecordingFileStatusUpdated: chunk locations are ACS URLs, never the blob's."""
    base = f"{ACS_HOST}/v1/objects/{document_id}"
    data: dict[str, Any] = {
        "recordingId": recording_id or call.recording_id,
        "recordingStorageInfo": {
            "recordingChunks": [
                {
                    "documentId": document_id,
                    "index": 0,
                    "endReason": "SessionEnded",
                    "contentLocation": f"{base}/content/audio",
                    "metadataLocation": f"{base}/content/acsmetadata",
                    "deleteLocation": base,
                }
            ]
        },
        "recordingStartTime": datetime.now(UTC).isoformat(),
        "recordingDurationMs": 1000,
        "recordingFormatType": "Wav",
        "sessionEndReason": "CallEnded",
    }
    if storage_type is not None:
        data["storageType"] = storage_type
    return {
        "id": str(uuid.uuid4()),
        "topic": "/subscriptions/x/providers/Microsoft.Communication/communicationServices/acs",
        "subject": f"/recording/call/{call.correlation_id}/serverCallId/{call.server_call_id}",
        "eventType": "Microsoft.Communication.RecordingFileStatusUpdated",
        "data": data,
        "dataVersion": "1.0",
        "metadataVersion": "1",
        "eventTime": datetime.now(UTC).isoformat(),
    }


def parsed(delivery: dict[str, Any]) -> RecordingFileEvent:
    """Through the webhook's own parser (BadEvent is the webhook's 400)."""
    return recording_file_event(envelopes(delivery, 1)[0])


def acs_writes(harness: Harness, region: str, call: ByosCall, document_id: str, data: bytes) -> str:
    """Play ACS: the chunk and its metadata in ``region``'s container, where ACS documents it puts them."""
    day = datetime.now(UTC).strftime("%Y%m%d")
    folder = f"{day}/{call.correlation_id}/{call.recording_id[:8]}-{uuid.uuid4()}"
    container = harness.container(region)
    container.get_blob_client(f"{folder}/0-acsmetadata.{document_id}.json").upload_blob(b"{}")
    blob = container.get_blob_client(f"{folder}/0-audiowav.{document_id}.wav")
    blob.upload_blob(data)
    return str(blob.url)
