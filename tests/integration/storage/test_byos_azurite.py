"""Bring your own storage against real Azurite: ACS's blob is adopted only inside the call's own container."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from recorder.emulator import EmulatorConfig, RunningEmulator, start_emulator
from recorder.services.storage import RecordingFileEvent, StoreState
from recorder.web.parsing import envelopes
from recorder.web.recording_files import recording_file_event
from tests.integration.azurite import Azurite
from tests.integration.storage.harness import US_CALLER, Harness, new_access_key, storage_settings


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with start_emulator(EmulatorConfig(access_key=new_access_key(), resource_id="byos-tests")) as running:
        yield running


@pytest.fixture
def harness(database_url: str, emulator: RunningEmulator, azurite: Azurite) -> Iterator[Harness]:
    h = Harness(database_url, emulator, azurite, storage_settings(azurite, mode="byos"))
    yield h
    h.close()


def byos_event(server_call_id: str, content_url: str, recording_id: str) -> RecordingFileEvent:
    delivery: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "topic": "/subscriptions/x/providers/Microsoft.Communication/communicationServices/acs",
        "subject": f"/recording/call/{uuid.uuid4()}/serverCallId/{server_call_id}",
        "eventType": "Microsoft.Communication.RecordingFileStatusUpdated",
        "data": {
            "recordingStorageInfo": {
                "recordingChunks": [
                    {"documentId": "doc-1", "index": 0, "contentLocation": content_url},
                ]
            },
            "recordingId": recording_id,
            "recordingFormatType": "Wav",
            "storageType": "AzureBlob",
        },
        "dataVersion": "1.0",
        "metadataVersion": "1",
        "eventTime": datetime.now(UTC).isoformat(),
    }
    return recording_file_event(envelopes(delivery, 1)[0])


def acs_writes(harness: Harness, region: str, data: bytes) -> str:
    """Play ACS: a blob under <YYYYMMDD>/<callId>/<recording>-<guid>/ in ``region``'s container."""
    name = f"20260101/{uuid.uuid4()}/rec-{uuid.uuid4()}/0-audio.wav"
    blob = harness.container(region).get_blob_client(name)
    blob.upload_blob(data)
    return str(blob.url)


def test_the_blob_acs_wrote_is_hashed_tagged_and_registered_where_it_is(harness: Harness) -> None:
    call_id, server_call_id = harness.add_call(US_CALLER)
    data = b"RIFF" + bytes(range(256)) * 5000
    url = acs_writes(harness, "eastus", data)
    harness.service.accept(byos_event(server_call_id, url, "rec-byos-1"))
    harness.service.run_until_idle()

    [row] = harness.rows()
    assert (row.state, row.mode, row.blob_url) == ("stored", "byos", url)
    assert (row.sha256, row.size) == (hashlib.sha256(data).hexdigest(), len(data))
    blob = harness.container("eastus").get_blob_client(row.blob_name)
    assert blob.get_blob_properties().metadata["sha256"] == row.sha256
    assert blob.get_blob_tags()["call_id"] == call_id
    assert len(harness.blob_names("eastus")) == 1  # adopted where ACS put it, never copied


def test_a_blob_in_another_region_container_is_refused_unread(harness: Harness) -> None:
    _, server_call_id = harness.add_call(US_CALLER)  # pinned to eastus
    url = acs_writes(harness, "westeurope", b"elsewhere")
    harness.service.accept(byos_event(server_call_id, url, "rec-byos-2"))
    harness.service.run_until_idle()

    [row] = harness.rows()
    assert row.state == StoreState.FAILED and "pinned to" in (row.last_error or "")
    blob = harness.container("westeurope").get_blob_client("/".join(url.split("/")[-4:]))
    assert blob.get_blob_tags() == {} and "sha256" not in blob.get_blob_properties().metadata  # untouched
    assert row.sha256 is None and row.blob_url is None


def test_a_blob_not_written_yet_is_retried_not_failed(harness: Harness) -> None:
    _, server_call_id = harness.add_call(US_CALLER)
    container_url = harness.container("eastus").url.rstrip("/")
    harness.service.accept(byos_event(server_call_id, f"{container_url}/20260101/x/y/0-audio.wav", "rec-3"))
    harness.service.run_until_idle(rounds=1)

    [row] = harness.rows()
    assert row.state == StoreState.PENDING and "not there" in (row.last_error or "")
