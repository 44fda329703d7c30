"""Bring your own storage, end to end: the service starts the recording with externalStorage naming the call's
region container; the emulator (playing ACS) writes the file into Azurite there, where ACS documents it does;
the file event (documented shape: ACS URLs, no blob URL) makes the service find that blob by its call, hash
it, tag it, verify it and register it (listed, published), and never copy it."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.stack import Stack, published, start_stack
from tests.e2e.storage.support import (
    US_CALLER,
    acs_files,
    blobs,
    container,
    storage_config,
    timeline,
    until,
)
from tests.integration.azurite import Azurite


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, azurite: Azurite) -> Iterator[tuple[Stack, str]]:
    workdir: Path = tmp_path_factory.mktemp("e2e-byos")
    tag = uuid.uuid4().hex[:8]
    yield from (
        (s, tag)
        for s in start_stack(
            f"sqlite:///{workdir / 'recorder.db'}",
            workdir,
            config=storage_config(azurite, tag, mode="byos"),
            publish_events=True,
            emulator_args=("--storage-connection-string", azurite.connection_string),
        )
    )


def test_acs_writes_into_the_call_region_container_and_the_service_verifies_tags_and_registers_it(
    stack: tuple[Stack, str], azurite: Azurite
) -> None:
    service, tag = stack
    server_call_id = service.place_call([{"raw_id": US_CALLER, "answers": ["1"], "leave_at_ms": 2500}])
    call = service.wait_until_ended(server_call_id)
    recording_id = call["recording"]["recording_id"]

    [acs_file] = until(lambda: acs_files(service, server_call_id), "the recording file")
    eastus = container(azurite, f"eus-{tag}")
    # start_recording named the eastus container: that is where ACS (the emulator) wrote the file
    byos_url = until(lambda: acs_files(service, server_call_id)[0]["byos_url"], "ACS to write the blob")
    assert byos_url.startswith(eastus.url.rstrip("/") + "/")
    [listed] = until(lambda: timeline(service, call["call_connection_id"])["stored_recordings"], "stored")
    assert (listed["region"], listed["container"], listed["state"]) == ("eastus", f"eus-{tag}", "stored")
    assert listed["blob_url"] == byos_url
    assert listed["sha256"] == acs_file["sha256"] and listed["size"] == acs_file["size"]

    names = sorted(b.name for b in blobs(azurite, f"eus-{tag}"))
    document = acs_file["document_id"]
    audio = next(n for n in names if n.endswith(f"/0-audiowav.{document}.wav"))
    metadata = audio.replace(f"0-audiowav.{document}.wav", f"0-acsmetadata.{document}.json")
    assert names == sorted([audio, metadata])  # no copy of ours
    day, acs_call_id, folder, _ = audio.split("/")  # ACS writes <YYYYMMDD>/<callId>/<recording>-<guid>/
    assert len(day) == 8 and day.isdigit() and folder.startswith(recording_id[:8])
    assert acs_call_id == call["correlation_id"]
    assert blobs(azurite, f"weu-{tag}") == []
    blob = eastus.get_blob_client(audio)
    assert hashlib.sha256(blob.download_blob().readall()).hexdigest() == acs_file["sha256"]
    props = blob.get_blob_properties()
    assert props.metadata["sha256"] == acs_file["sha256"]
    assert props.metadata["recording_id"] == recording_id
    assert props.metadata["call_connection_id"] == call["call_connection_id"]
    assert props.metadata["region"] == "eastus"
    tags = blob.get_blob_tags()
    assert (tags["sha256"], tags["region"], tags["chunk"]) == (acs_file["sha256"], "eastus", "0")

    [event] = until(
        lambda: [e for e in published(service, server_call_id) if e["type"] == "recorder.recording.stored"],
        "recorder.recording.stored",
    )
    assert event["data"]["mode"] == "byos" and event["data"]["blob_url"] == byos_url
