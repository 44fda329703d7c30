"""Bring your own storage against real Azurite, with the event as ACS documents it: the blob ACS wrote is
found by the call it belongs to, in the container that call is pinned to, and adopted there."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import pytest

from recorder.emulator import EmulatorConfig, RunningEmulator, start_emulator
from recorder.services.storage.model import StoreState
from recorder.web.webhooks.parsing import BadEvent
from tests.integration.azurite import Azurite
from tests.integration.storage.byos_support import acs_writes, byos_call, documented_event, parsed
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


@pytest.mark.parametrize("storage_type", ["AzureBlob", "blobstorage", "acsstorage", None])
def test_the_blob_acs_wrote_is_found_by_its_call_hashed_tagged_and_registered_where_it_is(
    harness: Harness, storage_type: str | None
) -> None:
    call = byos_call(harness, US_CALLER)
    data = b"RIFF" + bytes(range(256)) * 5000
    document_id = f"0-eus-d1-{uuid.uuid4().hex}"
    url = acs_writes(harness, "eastus", call, document_id, data)
    # whatever the event says storageType is: the service asked for BYOS, so it looks for the blob
    harness.service.accept(parsed(documented_event(call, document_id, storage_type=storage_type)))
    harness.service.run_until_idle()

    [row] = harness.rows()
    assert (row.state, row.mode, row.blob_url) == ("stored", "byos", url)
    assert (row.sha256, row.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert row.metadata_blob.endswith(f"/0-acsmetadata.{document_id}.json")
    blob = harness.container("eastus").get_blob_client(row.blob_name)
    assert blob.get_blob_properties().metadata["sha256"] == row.sha256
    assert blob.get_blob_tags()["call_id"] == call.call_id
    assert len(harness.blob_names("eastus")) == 2  # adopted where ACS put it, never copied


def test_a_blob_url_in_the_event_is_refused_like_any_non_acs_url(harness: Harness) -> None:
    call = byos_call(harness, US_CALLER)
    url = acs_writes(harness, "eastus", call, "doc-1", b"RIFF")
    delivery = documented_event(call, "doc-1")
    delivery["data"]["recordingStorageInfo"]["recordingChunks"][0]["contentLocation"] = url
    with pytest.raises(BadEvent) as refused:
        parsed(delivery)
    assert refused.value.code == "invalid_recording_url"


def test_a_blob_only_in_another_region_container_is_never_looked_at(harness: Harness) -> None:
    call = byos_call(harness, US_CALLER)  # pinned to eastus
    url = acs_writes(harness, "westeurope", call, "doc-2", b"elsewhere")
    harness.service.accept(parsed(documented_event(call, "doc-2")))
    harness.service.run_until_idle(rounds=1)

    [row] = harness.rows()
    assert row.state == StoreState.PENDING and "not written" in (row.last_error or "")
    blob = harness.container("westeurope").get_blob_client("/".join(url.split("/")[-4:]))
    assert blob.get_blob_tags() == {} and "sha256" not in blob.get_blob_properties().metadata  # untouched


def test_a_blob_not_written_yet_is_retried_not_failed(harness: Harness) -> None:
    call = byos_call(harness, US_CALLER)
    harness.service.accept(parsed(documented_event(call, "doc-3")))
    harness.service.run_until_idle(rounds=1)
    [row] = harness.rows()
    assert row.state == StoreState.PENDING and row.attempts == 1

    acs_writes(harness, "eastus", call, "doc-3", b"RIFF later")
    harness.service.update_row(row.id, available_at=row.created_at)  # its backoff is over
    harness.service.run_until_idle()
    assert harness.rows()[0].state == StoreState.STORED


def test_a_recording_the_service_did_not_start_is_refused(harness: Harness) -> None:
    call = byos_call(harness, US_CALLER)
    acs_writes(harness, "eastus", call, "doc-4", b"RIFF")
    other = f"eyJQbGF0{uuid.uuid4().hex}"
    harness.service.accept(parsed(documented_event(call, "doc-4", recording_id=other)))
    harness.service.run_until_idle()
    [row] = harness.rows()
    assert row.state == StoreState.FAILED and "did not start" in (row.last_error or "")
