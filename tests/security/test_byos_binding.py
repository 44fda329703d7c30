"""Issue 16, item 11: with bring-your-own-storage a forged RecordingFileStatusUpdated could name any blob in
the pinned container and re-tag another call's recording as its own. A blob is now bound to its call: found
only under the folder ACS writes for that call's ACS call id and recording, never taken from the event."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from recorder.emulator import EmulatorConfig, RunningEmulator, start_emulator
from recorder.services.storage.model import StoreState
from recorder.web.webhooks.parsing import BadEvent
from tests.integration.azurite import Azurite, azurite
from tests.integration.storage.byos_support import ByosCall, acs_writes, byos_call, documented_event, parsed
from tests.integration.storage.harness import US_CALLER, Harness, new_access_key, storage_settings

__all__ = ["azurite"]


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with start_emulator(EmulatorConfig(access_key=new_access_key(), resource_id="byos-binding")) as running:
        yield running


@pytest.fixture
def harness(database_url: str, emulator: RunningEmulator, azurite: Azurite) -> Iterator[Harness]:
    h = Harness(database_url, emulator, azurite, storage_settings(azurite, mode="byos"))
    yield h
    h.close()


def victims_blob(harness: Harness) -> tuple[ByosCall, str, str]:
    """Call A's recording, written by ACS into the shared eastus container; returns (A, blob name, URL)."""
    victim = byos_call(harness, US_CALLER)
    url = acs_writes(harness, "eastus", victim, "doc-victim", b"RIFF the victim's words")
    name = "/".join(url.split("/")[-4:])
    return victim, name, url


def untouched(harness: Harness, name: str) -> None:
    blob = harness.container("eastus").get_blob_client(name)
    assert blob.get_blob_tags() == {}
    assert "call_id" not in blob.get_blob_properties().metadata
    assert all(row.blob_name != name for row in harness.rows())


def test_a_forged_event_naming_another_calls_blob_is_refused(harness: Harness) -> None:
    _, name, url = victims_blob(harness)
    attacker = byos_call(harness, US_CALLER)  # call B, pinned to the same container
    forged = documented_event(attacker, "doc-victim")
    forged["data"]["recordingStorageInfo"]["recordingChunks"][0]["contentLocation"] = url
    try:
        event = parsed(forged)
    except BadEvent:
        event = None  # the webhook answers 400: a blob URL is never a recording location
    if event is not None:
        harness.service.accept(event)
        harness.service.run_until_idle()
    untouched(harness, name)  # before the fix: re-tagged and registered as call B's recording
    assert event is None


@pytest.mark.parametrize("claim", ["the victim's document", "the victim's recording"])
def test_a_well_formed_forged_event_cannot_reach_another_calls_blob(harness: Harness, claim: str) -> None:
    victim, name, _ = victims_blob(harness)
    attacker = byos_call(harness, US_CALLER)
    recording = victim.recording_id if claim == "the victim's recording" else None
    harness.service.accept(parsed(documented_event(attacker, "doc-victim", recording_id=recording)))
    harness.service.run_until_idle(rounds=3)

    [row] = harness.rows()
    assert row.call_id == attacker.call_id and row.state != StoreState.STORED
    untouched(harness, name)
