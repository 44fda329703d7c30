"""Demo-like calls, end to end: each recording ends up in its region's container, hashed and described, is
listed on the call's timeline, and is announced as ``recorder.recording.stored`` (the request says stored)."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack import Stack, published, start_stack
from tests.e2e.storage.support import (
    US_CALLER,
    acs_files,
    api,
    blobs,
    container,
    service_key,
    storage_config,
    timeline,
    until,
)
from tests.integration.azurite import Azurite


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, azurite: Azurite) -> Iterator[tuple[Stack, str]]:
    workdir: Path = tmp_path_factory.mktemp("e2e-storage")
    tag = uuid.uuid4().hex[:8]
    config = storage_config(azurite, tag)
    database = f"sqlite:///{workdir / 'recorder.db'}"
    yield from ((s, tag) for s in start_stack(database, workdir, config=config, publish_events=True))


def test_a_consented_call_recording_lands_in_its_region_with_matching_sha256_and_metadata(
    stack: tuple[Stack, str], azurite: Azurite
) -> None:
    service, tag = stack
    server_call_id = service.place_call(
        [
            {"raw_id": US_CALLER, "answers": ["1"], "leave_at_ms": 2500},
            {"raw_id": "4:+14255550124", "answers": ["1"], "answer_delay_ms": 200, "leave_at_ms": 2500},
        ]
    )
    call = service.wait_until_ended(server_call_id)
    assert call["recording"] is not None

    stored = until(lambda: len(b := blobs(azurite, f"eus-{tag}")) >= 2 and b, "the recording in eastus")
    recording = next(b for b in stored if b.name.endswith(".wav"))
    [acs_file] = acs_files(service, server_call_id)
    content = container(azurite, f"eus-{tag}").get_blob_client(recording.name).download_blob().readall()
    assert hashlib.sha256(content).hexdigest() == acs_file["sha256"] == recording.metadata["sha256"]
    assert recording.metadata["server_call_id"] == server_call_id
    assert recording.metadata["call_connection_id"] == call["call_connection_id"]
    assert recording.metadata["recording_id"] == call["recording"]["recording_id"]
    assert recording.metadata["region"] == "eastus"
    assert recording.tags["sha256"] == acs_file["sha256"]
    assert any(b.name.endswith(".metadata.json") for b in stored)
    assert blobs(azurite, f"weu-{tag}") == []
    document = acs_file["document_id"]
    until(
        lambda: httpx.get(f"{service.emulator_url}/emulator/recording-files/{document}").json()["deleted"],
        "ACS's copy to be deleted after the blob was verified",
    )

    # The call's timeline lists it, without any SAS; the topic received recorder.recording.stored once.
    [listed] = until(lambda: timeline(service, call["call_connection_id"])["stored_recordings"], "timeline")
    blob_url = container(azurite, f"eus-{tag}").get_blob_client(recording.name).url
    assert listed == {
        "recording_id": call["recording"]["recording_id"],
        "chunk_index": 0,
        "state": "stored",
        "region": "eastus",
        "container": f"eus-{tag}",
        "blob_url": blob_url,
        "sha256": acs_file["sha256"],
        "size": acs_file["size"],
        "stored_at": listed["stored_at"],
        "deleted_at": None,
        "legal_hold": None,
    }
    assert "?" not in listed["blob_url"] and listed["stored_at"]
    events = until(
        lambda: [e for e in published(service, server_call_id) if e["type"] == "recorder.recording.stored"],
        "recorder.recording.stored",
    )
    [event] = events
    assert event["data"]["recording_id"] == call["recording"]["recording_id"]
    assert event["data"]["call_connection_id"] == call["call_connection_id"]
    assert (event["data"]["sha256"], event["data"]["size"]) == (acs_file["sha256"], acs_file["size"])
    assert (event["data"]["region"], event["data"]["container"]) == ("eastus", f"eus-{tag}")
    assert event["data"]["blob_url"] == blob_url
    sequence = [e["data"]["sequence"] for e in published(service, server_call_id)]
    assert sequence == list(range(1, len(sequence) + 1))  # numbered in the call's order, no gaps


def test_an_app_request_reports_stored_and_its_region_wins_over_the_routes(
    stack: tuple[Stack, str], azurite: Azurite
) -> None:
    service, tag = stack
    key = service_key(service)
    body = {
        "from": US_CALLER,  # a route would pick eastus; the request asks for westeurope
        "to": "4:+18005550100",
        "participants": [{"raw_id": US_CALLER, "answers": ["1"], "leave_at_ms": 3000}],
        "deliver_incoming_call": False,
    }
    server_call_id = httpx.post(f"{service.emulator_url}/emulator/calls", json=body, timeout=10).json()[
        "server_call_id"
    ]
    created = api(
        service,
        key,
        "POST",
        "/api/recordings",
        json={"server_call_id": server_call_id, "region": "westeurope", "external_reference": "t-9"},
    )
    assert created.status_code == 202, created.text
    request_id = created.json()["id"]

    view = until(
        lambda: (
            (v := api(service, key, "GET", f"/api/recordings/{request_id}").json())["state"] == "stored" and v
        ),
        "the request to report stored",
        timeout=40,
    )
    [acs_file] = acs_files(service, server_call_id)
    [listed] = timeline(service, view["call_connection_id"])["stored_recordings"]
    assert (listed["region"], listed["container"], listed["sha256"]) == (
        "westeurope",
        f"weu-{tag}",
        acs_file["sha256"],
    )
    assert not [b for b in blobs(azurite, f"eus-{tag}") if b.metadata.get("server_call_id") == server_call_id]
    [event] = [e for e in published(service, server_call_id) if e["type"] == "recorder.recording.stored"]
    assert event["data"]["recording_request_id"] == request_id
    assert event["data"]["external_reference"] == "t-9"


def test_an_operator_legal_hold_reaches_the_stored_blobs_and_azurite_says_unsupported(
    stack: tuple[Stack, str],
) -> None:
    service, _ = stack
    server_call_id = service.place_call([{"raw_id": US_CALLER, "answers": ["1"], "leave_at_ms": 2500}])
    call = service.wait_until_ended(server_call_id)
    connection = call["call_connection_id"]
    until(lambda: timeline(service, connection)["stored_recordings"], "the recording to be stored")
    created = service.cli("keys", "create", "--role", "operator", "--name", "legal")
    operator = created.stdout.strip().splitlines()[-1]

    started = time.monotonic()
    path = f"/api/calls/{connection}/legal-hold"
    held = api(service, operator, "POST", path, json={"reason": "litigation"})
    assert held.status_code == 201, held.text
    assert held.json()["blob_hold"] == "unsupported"  # Azurite answers 501: reported, not hidden
    assert time.monotonic() - started < 10  # the blob hold shares the request's transaction: no lock wait
    [listed] = timeline(service, connection)["stored_recordings"]
    assert listed["legal_hold"] == "unsupported"
    actions = [a["action"] for a in timeline(service, connection)["audit"]]
    assert "recording.legal_hold" in actions and "legal_hold.placed" in actions
