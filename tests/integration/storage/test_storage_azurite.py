"""Recordings into region-pinned Blob storage, against real Azurite, the ACS emulator and the real SDKs."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from recorder.db.tables.storage import StoredRecording
from recorder.db.unit_of_work import UnitOfWork
from recorder.emulator import RunningEmulator
from recorder.services.storage.model import Accepted, StoreState
from recorder.services.storage.ports import BlobStore, RecordingUrlRejected
from recorder.services.storage.retention import run_retention
from recorder.services.storage.transfer import block_id
from recorder.web.webhooks.parsing import BadEvent
from tests.integration.azurite import Azurite
from tests.integration.storage.harness import (
    EU_CALLER,
    US_CALLER,
    Harness,
    file_event,
    storage_settings,
)

MIB = 1024 * 1024


@pytest.fixture
def harness(database_url: str, emulator: RunningEmulator, azurite: Azurite) -> Iterator[Harness]:
    h = Harness(database_url, emulator, azurite, storage_settings(azurite, retention_days=30))
    yield h
    h.close()


class CrashingStore:
    """The real store, but the process 'dies' when it comes to stage block number ``allowed``."""

    def __init__(self, real: BlobStore, allowed: int) -> None:
        self.real, self.allowed = real, allowed
        self.staged: list[str] = []
        self.lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def stage_block(self, blob_name: str, block_id: str, data: bytes) -> None:
        if int(block_id.rsplit("-", 1)[1]) >= self.allowed:
            raise KeyboardInterrupt("simulated crash mid-transfer")
        self.real.stage_block(blob_name, block_id, data)
        with self.lock:
            self.staged.append(block_id)


def test_a_recording_lands_in_its_call_region_with_sha256_metadata_tags_and_acs_metadata(
    harness: Harness,
) -> None:
    call_id, server_call_id = harness.add_call(US_CALLER)
    file = harness.recording_file(server_call_id, 3 * MIB + 123)

    assert harness.service.accept(file_event(file)) is Accepted.QUEUED
    harness.service.run_until_idle()

    [row] = harness.rows()
    assert (row.state, row.region, row.sha256, row.size) == ("stored", "eastus", file["sha256"], file["size"])
    assert harness.blob_names("westeurope") == []  # never in another region's container
    assert harness.blob_names("eastus") == sorted([row.blob_name, row.metadata_blob])
    blob = harness.container("eastus").get_blob_client(row.blob_name)
    assert hashlib.sha256(blob.download_blob().readall()).hexdigest() == file["sha256"]
    props = blob.get_blob_properties()
    assert props.metadata["sha256"] == file["sha256"]
    assert props.metadata["call_id"] == call_id
    assert props.metadata["server_call_id"] == server_call_id
    assert props.metadata["recording_id"] == file["recording_id"]
    assert props.metadata["region"] == "eastus"
    assert props.metadata["ledger_ref"].startswith(f"consent_ledger:call={call_id}")
    assert blob.get_blob_tags() == {
        "call_id": call_id,
        "recording": hashlib.sha256(file["recording_id"].encode()).hexdigest()[:32],
        "chunk": "0",
        "region": "eastus",
        "sha256": file["sha256"],
    }
    acs_metadata = harness.container("eastus").get_blob_client(row.metadata_blob).download_blob().readall()
    assert json.loads(acs_metadata)["chunkDocumentId"] == file["document_id"]
    assert row.blob_url is not None and "sig=" not in row.blob_url
    assert row.acs_deleted and harness.file_state(file["document_id"])["deleted"]
    assert harness.audit_actions(call_id) == [
        "recording.file_received",
        "recording.stored",
        "recording.acs_copy_deleted",
    ]


def test_calls_without_a_matching_route_go_to_the_default_region(harness: Harness) -> None:
    _, server_call_id = harness.add_call(EU_CALLER)
    file = harness.recording_file(server_call_id, 1000)
    harness.service.accept(file_event(file))
    harness.service.run_until_idle()
    [row] = harness.rows()
    assert (row.state, row.region) == ("stored", "westeurope")
    assert harness.blob_names("eastus") == []


def test_a_duplicate_event_never_makes_a_second_blob(harness: Harness) -> None:
    _, server_call_id = harness.add_call(US_CALLER)
    file = harness.recording_file(server_call_id, 2 * MIB)
    first = file_event(file, event_id="event-1")
    assert harness.service.accept(first) is Accepted.QUEUED
    assert harness.service.accept(first) is Accepted.DUPLICATE  # the same delivery again
    harness.service.run_until_idle()
    # Event Grid may also redeliver the same chunk under a new event id, after it was stored.
    assert harness.service.accept(file_event(file, event_id="event-2")) is Accepted.QUEUED
    harness.service.run_until_idle()
    assert len(harness.rows()) == 1
    assert len(harness.blob_names("eastus")) == 2  # the recording and its metadata JSON, once


def test_a_crash_mid_transfer_resumes_and_never_registers_a_partial_blob(harness: Harness) -> None:
    call_id, server_call_id = harness.add_call(US_CALLER)
    file = harness.recording_file(server_call_id, 5 * MIB + 500)  # 6 blocks of 1 MiB
    crashing = CrashingStore(harness.stores["eastus"], allowed=2)
    dying = harness.build(stores={**harness.stores, "eastus": crashing})
    dying.accept(file_event(file))

    with pytest.raises(KeyboardInterrupt):
        dying.run_until_idle()
    [row] = harness.rows()
    assert row.state == StoreState.PENDING and row.sha256 is None
    assert harness.blob_names("eastus") == []  # staged blocks are not a blob
    assert not harness.file_state(file["document_id"])["deleted"]

    # The lease of the dead worker runs out; a fresh process picks the row up.
    with UnitOfWork(harness.sessions) as uow:
        uow.session.execute(update(StoredRecording).values(claimed_until=None))
        uow.commit()
    counting = CrashingStore(harness.stores["eastus"], allowed=100)
    harness.build(stores={**harness.stores, "eastus": counting}).run_until_idle()

    [row] = harness.rows()
    assert (row.state, row.sha256, row.size) == ("stored", file["sha256"], file["size"])
    assert sorted(counting.staged) == [block_id(i) for i in range(2, 6)]  # blocks 0 and 1 were kept
    blob = harness.container("eastus").get_blob_client(row.blob_name)
    assert hashlib.sha256(blob.download_blob().readall()).hexdigest() == file["sha256"]
    assert "recording.stored" in harness.audit_actions(call_id)


def test_the_acs_copy_stays_when_the_blob_cannot_be_verified(harness: Harness) -> None:
    _, server_call_id = harness.add_call(US_CALLER)
    file = harness.recording_file(server_call_id, MIB)
    harness.service.accept(file_event(file))
    [row] = harness.rows()
    squatter = harness.container("eastus").get_blob_client(row.blob_name)
    squatter.upload_blob(b"something else", metadata={"sha256": "0" * 64})

    harness.service.run_until_idle()

    [row] = harness.rows()
    assert row.state == StoreState.FAILED and "other content" in (row.last_error or "")
    assert squatter.download_blob().readall() == b"something else"  # never overwritten
    assert not row.acs_deleted and not harness.file_state(file["document_id"])["deleted"]


def test_a_foreign_recording_host_is_refused_before_the_sdk_runs(harness: Harness) -> None:
    _, server_call_id = harness.add_call(US_CALLER)
    file = harness.recording_file(server_call_id, 1000)
    with pytest.raises(BadEvent) as refused:
        file_event(file, host="https://attacker.example.com")
    assert refused.value.code == "invalid_recording_url"
    with pytest.raises(BadEvent):
        file_event(file, host="https://us-storage.asm.skype.com.attacker.example.com")
    requests_before = harness.file_state(file["document_id"])["downloads"]
    with pytest.raises(RecordingUrlRejected):
        harness.service.source.read_range("https://attacker.example.com/v1/objects/x/content/audio", 0, 9)
    with pytest.raises(RecordingUrlRejected):
        harness.service.source.delete("http://us-storage.asm.skype.com/v1/objects/x")
    assert harness.file_state(file["document_id"])["downloads"] == requests_before


def test_retention_deletes_expired_recordings_and_skips_held_calls(harness: Harness) -> None:
    expired_call, expired_server = harness.add_call(US_CALLER)
    held_call, held_server = harness.add_call(US_CALLER)
    fresh_call, fresh_server = harness.add_call(EU_CALLER)
    for server_call_id in (expired_server, held_server, fresh_server):
        harness.service.accept(file_event(harness.recording_file(server_call_id, 2000)))
    harness.service.run_until_idle()
    now = datetime.now(UTC)
    with UnitOfWork(harness.sessions) as uow:
        uow.session.execute(
            update(StoredRecording)
            .where(StoredRecording.call_id.in_([expired_call, held_call]))
            .values(stored_at=now - timedelta(days=31))
        )
        _place_hold(uow, held_call, now)
        uow.commit()
    progress: list[tuple[int, int]] = []

    report = run_retention(harness.service, now, lambda done, total: progress.append((done, total)))

    assert (report.deleted, report.held, report.errors) == (1, 1, [])
    assert progress == [(1, 2), (2, 2)]
    states = {r.call_id: r.state for r in harness.rows()}
    assert states == {expired_call: "deleted", held_call: "stored", fresh_call: "stored"}
    assert "recording.deleted" in harness.audit_actions(expired_call)
    assert "recording.deleted" not in harness.audit_actions(held_call)
    remaining = harness.blob_names("eastus")
    assert all(name.startswith(held_call) for name in remaining) and len(remaining) == 2


def test_blob_legal_hold_is_reported_unsupported_on_azurite(harness: Harness) -> None:
    call_id, server_call_id = harness.add_call(US_CALLER)
    harness.service.accept(file_event(harness.recording_file(server_call_id, 1000)))
    harness.service.run_until_idle()
    assert harness.service.apply_legal_hold(call_id, True) == "unsupported"
    [row] = harness.rows()
    assert row.legal_hold == "unsupported"
    assert "recording.legal_hold" in harness.audit_actions(call_id)


def test_a_region_whose_container_changed_is_never_written_elsewhere(
    harness: Harness, azurite: Azurite
) -> None:
    _, server_call_id = harness.add_call(US_CALLER)
    harness.service.accept(file_event(harness.recording_file(server_call_id, 1000)))
    moved = storage_settings(azurite)  # same region names, other containers
    harness.build(settings=moved).run_until_idle()
    [row] = harness.rows()
    assert row.state == StoreState.FAILED and "refusing to write elsewhere" in (row.last_error or "")


def _place_hold(uow: UnitOfWork, call_id: str, now: datetime) -> None:
    from recorder.db.tables.compliance import LegalHold

    uow.session.add(LegalHold(call_id=call_id, reason="litigation", set_by="test", set_at=now))
