"""SIGKILL the service inside a recording transfer, restart it, and check the recording is stored exactly
once: the right sha256, no second blob, ACS's copy still there at the moment of death whenever the blob had
not been verified and registered yet, and deleted (once verified) in the end."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from recorder.db.tables.recording_requests import OutgoingEventRow
from tests.e2e.stack import Stack, published, start_stack
from tests.e2e.storage.support import (
    US_CALLER,
    api,
    blobs,
    container,
    storage_config,
    timeline,
)
from tests.integration.azurite import Azurite

SIZE = 6 * 1024 * 1024 + 4321  # seven 1 MiB blocks: more than the four uploads in flight


@pytest.fixture
def crashing_stack(
    request: pytest.FixtureRequest, tmp_path: Path, azurite: Azurite
) -> Iterator[tuple[Stack, Path, str]]:
    marker = tmp_path / "crashed"
    tag = uuid.uuid4().hex[:8]
    config = storage_config(azurite, tag, extra="lease_seconds = 2")
    env = {"RECORDER_CRASH_AT": f"{request.param}:{marker}"}
    database = tmp_path / "recorder.db"
    for stack in start_stack(
        f"sqlite:///{database}", tmp_path, extra_env=env, config=config, publish_events=True
    ):
        yield stack, marker, tag


def a_call_the_service_knows(stack: Stack) -> dict[str, Any]:
    """A call that records nothing itself (its only participant declines): the file below is the only one."""
    server_call_id = stack.place_call([{"raw_id": US_CALLER, "answers": ["2"], "leave_at_ms": 1500}])
    return stack.wait_until_ended(server_call_id)


def announce_recording_file(stack: Stack, server_call_id: str) -> dict[str, Any]:
    body = {"server_call_id": server_call_id, "recording_id": f"rec-{uuid.uuid4()}", "size": SIZE}
    response = httpx.post(
        f"{stack.emulator_url}/emulator/recording-files", json={**body, "announce": True}, timeout=30
    )
    response.raise_for_status()
    file: dict[str, Any] = response.json()
    return file


def acs_file(stack: Stack, document_id: str) -> dict[str, Any]:
    response = httpx.get(f"{stack.emulator_url}/emulator/recording-files/{document_id}", timeout=30)
    result: dict[str, Any] = response.json()
    return result


@pytest.mark.parametrize(
    ("crashing_stack", "acs_copy_at_death"),
    [
        ("transfer.after_block_staged", "kept"),
        ("storage.before_register", "kept"),  # committed and verified, not registered
        ("storage.after_register", "kept"),  # registered, ACS's copy not deleted yet
        ("storage.after_acs_delete", "deleted"),  # deleted at ACS, not marked on the row
    ],
    indirect=["crashing_stack"],
)
def test_a_transfer_killed_at_any_point_ends_stored_exactly_once(
    crashing_stack: tuple[Stack, Path, str], acs_copy_at_death: str, azurite: Azurite, tmp_path: Path
) -> None:
    stack, marker, tag = crashing_stack
    database = tmp_path / "recorder.db"
    call = a_call_the_service_knows(stack)
    file = announce_recording_file(stack, call["server_call_id"])
    first = stack.service
    assert first is not None and stack.start_service is not None

    deadline = time.monotonic() + 60
    while first.poll() is None:
        assert time.monotonic() < deadline, "the crash point was never reached"
        time.sleep(0.05)
    assert marker.read_text().strip() and first.returncode == -9  # SIGKILL, not a clean exit
    at_death = "deleted" if acs_file(stack, file["document_id"])["deleted"] else "kept"
    assert at_death == acs_copy_at_death
    stack.service = stack.start_service()

    connection = call["call_connection_id"]

    def finished() -> tuple[list[dict[str, Any]], list[str]] | None:
        view = timeline(stack, connection)
        actions = [a["action"] for a in view["audit"]]
        done = view["stored_recordings"] and "recording.acs_copy_deleted" in actions
        return (view["stored_recordings"], actions) if done else None

    while (result := finished()) is None:
        assert time.monotonic() < deadline, "not stored (and ACS's copy deleted) after the restart"
        assert stack.service.poll() is None, "the restarted service died"
        time.sleep(0.2)
    rows, actions = result
    assert acs_file(stack, file["document_id"])["deleted"]

    [row] = rows
    assert (row["state"], row["sha256"], row["size"]) == ("stored", file["sha256"], SIZE)
    names = sorted(b.name for b in blobs(azurite, f"eus-{tag}"))
    assert len(names) == 2 and names[0].endswith(".metadata.json") and names[1].endswith(".wav")  # no second
    content = container(azurite, f"eus-{tag}").get_blob_client(names[1]).download_blob().readall()
    assert hashlib.sha256(content).hexdigest() == file["sha256"]
    assert blobs(azurite, f"weu-{tag}") == []

    assert actions.count("recording.stored") == 1 and actions.count("recording.acs_copy_deleted") == 1
    assert actions.index("recording.stored") < actions.index("recording.acs_copy_deleted")
    # Registered once, so one event row; the topic gets it at least once (a publisher killed holding its
    # claim re-sends it when its 60 s claim runs out), always under the same id.
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as db:
        stored_rows = db.execute(
            select(OutgoingEventRow.id).where(OutgoingEventRow.type == "recorder.recording.stored")
        ).all()
    engine.dispose()
    assert len(stored_rows) == 1
    deadline = time.monotonic() + 75
    kind = "recorder.recording.stored"
    while not (events := [e for e in published(stack, call["server_call_id"]) if e["type"] == kind]):
        assert time.monotonic() < deadline, "recorder.recording.stored never reached the topic"
        time.sleep(0.5)
    assert {e["id"] for e in events} == {stored_rows[0].id}
    assert events[0]["data"]["sha256"] == file["sha256"]
    verify = api(stack, stack.auditor_key, "GET", "/api/audit/verify").json()
    assert verify["ok"] is True
