"""A demo-like call, end to end: its recording ends up in its region's container, hashed and described."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.storage.blob import BlobServiceClient

from tests.e2e.stack import CONFIG, Stack, start_stack
from tests.integration.azurite import Azurite

CALLER = "4:+14255550123"  # routed to eastus


def storage_config(azurite: Azurite, tag: str) -> str:
    return (
        CONFIG
        + f"""
[storage]
mode = "copy"
default_region = "westeurope"
retention_days = 30

[storage.regions.westeurope]
container = "weu-{tag}"
connection_string = "{azurite.connection_string}"

[storage.regions.eastus]
container = "eus-{tag}"
connection_string = "{azurite.connection_string}"

[[storage.routes]]
caller_prefix = "4:+1"
region = "eastus"
"""
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, azurite: Azurite) -> Iterator[tuple[Stack, str]]:
    workdir: Path = tmp_path_factory.mktemp("e2e-storage")
    tag = uuid.uuid4().hex[:8]
    config = storage_config(azurite, tag)
    yield from ((s, tag) for s in start_stack(f"sqlite:///{workdir / 'recorder.db'}", workdir, config=config))


def _wait_for_blobs(azurite: Azurite, container: str, timeout: float = 30) -> list[Any]:
    client = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(
        container
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.exists():
            blobs = list(client.list_blobs(include=["metadata", "tags"]))
            if len(blobs) >= 2:
                return blobs
        time.sleep(0.2)
    raise TimeoutError(f"no recording arrived in {container}")


def test_a_consented_call_recording_lands_in_its_region_with_matching_sha256_and_metadata(
    stack: tuple[Stack, str], azurite: Azurite
) -> None:
    service, tag = stack
    server_call_id = service.place_call(
        [
            {"raw_id": CALLER, "answers": ["1"], "leave_at_ms": 2500},
            {"raw_id": "4:+14255550124", "answers": ["1"], "answer_delay_ms": 200, "leave_at_ms": 2500},
        ]
    )
    call = service.wait_until_ended(server_call_id)
    assert call["recording"] is not None

    blobs = _wait_for_blobs(azurite, f"eus-{tag}")
    recording = next(b for b in blobs if b.name.endswith(".wav"))
    files = httpx.get(f"{service.emulator_url}/emulator/recording-files", timeout=10).json()
    [acs_file] = [f for f in files if f["server_call_id"] == server_call_id]
    client = BlobServiceClient.from_connection_string(azurite.connection_string)
    content = client.get_blob_client(f"eus-{tag}", recording.name).download_blob().readall()
    assert hashlib.sha256(content).hexdigest() == acs_file["sha256"] == recording.metadata["sha256"]
    assert recording.metadata["server_call_id"] == server_call_id
    assert recording.metadata["call_connection_id"] == call["call_connection_id"]
    assert recording.metadata["recording_id"] == call["recording"]["recording_id"]
    assert recording.metadata["region"] == "eastus"
    assert recording.tags["sha256"] == acs_file["sha256"]
    assert any(b.name.endswith(".metadata.json") for b in blobs)
    weu = client.get_container_client(f"weu-{tag}")
    assert not weu.exists() or list(weu.list_blobs()) == []
    deadline = time.monotonic() + 10
    while not httpx.get(f"{service.emulator_url}/emulator/recording-files/{acs_file['document_id']}").json()[
        "deleted"
    ]:
        assert time.monotonic() < deadline, "ACS's copy was not deleted after the blob was verified"
        time.sleep(0.2)
