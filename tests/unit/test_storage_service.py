"""The storage service on in-memory fakes of its ports (services/storage/ports.py, records.py): no database,
no Azurite, no ACS.

What is checked is the service's own job: queue one row per chunk in the call's region, once per event;
copy, verify and register each chunk once; delete ACS's copy only after; retry with backoff and give up
audibly; honour legal holds and retention. The SQL and the real blob store have their integration tests
(tests/integration/storage/)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from recorder.config.settings import is_loopback
from recorder.config.storage import StorageSettings, load_storage
from recorder.domain.model import CallState
from recorder.services.storage.model import Accepted, RecordingChunk, RecordingFileEvent
from recorder.services.storage.ports import BlobExists, BlobInfo, StorageError
from recorder.services.storage.retention import run_retention
from recorder.services.storage.service import StorageService
from tests.unit.fakes import FakeTransaction

NOW = datetime.now(UTC)
US, EU = "4:+14255550101", "4:+442071234567"
SECTION = {
    "mode": "copy",
    "default_region": "westeurope",
    "block_size_mib": 1,
    "regions": {
        "westeurope": {"container": "weu", "account_url": "https://weu.example", "retention_days": 30},
        "eastus": {"container": "eus", "account_url": "https://eus.example"},
    },
    "routes": [{"caller_prefix": "4:+1", "region": "eastus"}],
}


def storage_settings() -> StorageSettings:
    problems: list[str] = []
    settings = load_storage(SECTION, problems, is_loopback)
    assert settings is not None, problems
    return settings


@dataclass
class Call:
    id: str
    server_call_id: str
    caller: str | None
    callee: str | None = None
    correlation_id: str | None = None
    call_connection_id: str | None = "connection-1"
    recording_id: str | None = "recording-1"
    direction: str = "inbound"


@dataclass
class Row:
    id: int
    values: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        return self.values[name]


@dataclass
class Memory:
    """What the fakes keep: the 'database', the blob containers and ACS's files."""

    calls: dict[str, Call] = field(default_factory=dict)
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    audit: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    held: set[str] = field(default_factory=set)
    files: dict[str, bytes] = field(default_factory=dict)  # ACS's copies, by URL
    now: datetime = NOW

    def clock(self) -> datetime:
        return self.now

    def actions(self) -> list[str]:
        return [action for action, _ in self.audit]


class FakeRecords:
    def __init__(self, memory: Memory) -> None:
        self.m = memory

    def call(self, call_id: str) -> Call | None:
        return self.m.calls.get(call_id)

    def call_of_server_call(self, server_call_id: str) -> Call | None:
        return next((c for c in self.m.calls.values() if c.server_call_id == server_call_id), None)

    def requested_region(self, call_id: str) -> str | None:
        return None

    def last_consent(self, call_id: str) -> int:
        return 7

    def queue(self, values: dict[str, Any]) -> bool:
        key = (values["recording_id"], values["chunk_index"])
        if any((r["recording_id"], r["chunk_index"]) == key for r in self.m.rows.values()):
            return False
        self.m.rows[len(self.m.rows) + 1] = {**values, "claimed_until": None, "sha256": None}
        return True

    def ready(self, now: datetime, limit: int, *, acs_copies: bool) -> list[int]:
        def has_work(r: dict[str, Any]) -> bool:
            acs_left = r["state"] == "stored" and r["mode"] == "copy" and not r["acs_deleted"]
            return r["state"] == "pending" or (acs_copies and acs_left and r["delete_location"] is not None)

        free = [i for i, r in self.m.rows.items() if r["claimed_until"] is None or r["claimed_until"] < now]
        return [i for i in free if has_work(self.m.rows[i]) and self.m.rows[i]["available_at"] <= now][:limit]

    def claim(self, row_id: int, now: datetime, lease: timedelta) -> bool:
        row = self.m.rows[row_id]
        if row["claimed_until"] is not None and row["claimed_until"] >= now:
            return False
        row.update(claimed_until=now + lease, attempts=row["attempts"] + 1)
        return True

    def get(self, row_id: int) -> Row:
        return Row(row_id, dict(self.m.rows[row_id]))

    def update(self, row_id: int, now: datetime, **values: Any) -> None:
        self.m.rows[row_id].update(updated_at=now, **values)

    def retry_later(self, row_id: int, now: datetime, available_at: datetime, error: str) -> None:
        self.update(row_id, now, available_at=available_at, claimed_until=None, last_error=error)

    def register(self, row_id: int, now: datetime, **values: Any) -> bool:
        if self.m.rows[row_id]["state"] != "pending":
            return False
        self.update(row_id, now, state="stored", stored_at=now, **values)
        return True

    def stored_of(self, call_id: str) -> list[Row]:
        return [
            self.get(i) for i, r in self.m.rows.items() if r["call_id"] == call_id and r["state"] == "stored"
        ]

    def set_legal_hold(self, row_ids: list[int], value: str, now: datetime) -> None:
        for row_id in row_ids:
            self.update(row_id, now, legal_hold=value)

    def expired(self, region: str, stored_before: datetime) -> list[int]:
        return [
            i
            for i, r in self.m.rows.items()
            if r["state"] == "stored" and r["region"] == region and r["stored_at"] < stored_before
        ]

    def deleted(self, row_id: int, now: datetime) -> None:
        self.update(row_id, now, state="deleted", deleted_at=now)


class FakeUnitOfWork(FakeTransaction):
    def __init__(self, memory: Memory) -> None:
        self.m = memory
        self.storage = FakeRecords(memory)
        self.calls, self.inbox, self.audit, self.events, self.holds = self, self, self, self, self

    def get(self, call_id: str, *, lock: bool = False) -> CallState | None:
        call = self.m.calls.get(call_id)
        return None if call is None else CallState(call.id, call.server_call_id, call.call_connection_id)

    def add(self, *args: Any) -> Any:  # the inbox's add (channel, id, ...) and the event rows' add (row)
        if len(args) == 1:
            self.m.events.append(args[0])
            return None
        new = args[1] not in self.m.seen
        self.m.seen.add(args[1])
        return new

    def append(
        self, actor: str, action: str, call_id: str | None, data: dict[str, Any], now: datetime
    ) -> int:
        self.m.audit.append((action, data))
        return len(self.m.audit)

    def last_sequence(self, call_id: str) -> int:
        return len(self.m.events)

    def requests_of(self, call_id: str) -> list[tuple[str, str | None]]:
        return []

    def after_commit(self, callback: Any) -> None:
        return None

    def is_on_hold(self, call_id: str) -> bool:
        return call_id in self.m.held


class FakeStore:
    """One region's container, in memory."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.staged: dict[str, dict[str, bytes]] = {}
        self.blobs: dict[str, tuple[bytes, dict[str, str]]] = {}
        self.fail_commits = 0

    @property
    def location(self) -> str:
        return f"https://{self.name}.example/{self.name}"

    def ensure_container(self) -> None:
        return None

    def url_of(self, blob_name: str) -> str:
        return f"{self.location}/{blob_name}"

    def staged_blocks(self, blob_name: str) -> list[tuple[str, int]]:
        return [(i, len(b)) for i, b in self.staged.get(blob_name, {}).items()]

    def stage_block(self, blob_name: str, block_id: str, data: bytes) -> None:
        self.staged.setdefault(blob_name, {})[block_id] = bytes(data)

    def commit_new(
        self,
        blob_name: str,
        block_ids: list[str],
        *,
        content_type: str,
        metadata: Mapping[str, str],
        tags: Mapping[str, str],
    ) -> None:
        if self.fail_commits:
            self.fail_commits -= 1
            raise StorageError("the account is busy", transient=True, status=503)
        staged = self.staged.pop(blob_name)
        self.put_new(
            blob_name, b"".join(staged[i] for i in block_ids), content_type=content_type, metadata=metadata
        )

    def put_new(self, blob_name: str, data: bytes, *, content_type: str, metadata: Mapping[str, str]) -> None:
        if blob_name in self.blobs:
            raise BlobExists(blob_name)
        self.blobs[blob_name] = (data, dict(metadata))

    def info(self, blob_name: str) -> BlobInfo | None:
        if blob_name not in self.blobs:
            return None
        data, metadata = self.blobs[blob_name]
        return BlobInfo(blob_name, self.url_of(blob_name), len(data), metadata)

    def set_tags_and_metadata(
        self, blob_name: str, metadata: Mapping[str, str], tags: Mapping[str, str]
    ) -> None:
        self.blobs[blob_name] = (self.blobs[blob_name][0], dict(metadata))

    def read(self, blob_name: str, chunk_size: int) -> Iterator[bytes]:
        yield self.blobs[blob_name][0]

    def read_small(self, blob_name: str, limit: int) -> bytes:
        return self.blobs[blob_name][0][:limit]

    def list_names(self, prefix: str) -> list[str]:
        return [name for name in self.blobs if name.startswith(prefix)]

    def delete(self, blob_name: str) -> bool:
        return self.blobs.pop(blob_name, None) is not None

    def set_legal_hold(self, blob_name: str, on: bool) -> bool:
        return False  # like Azurite: the account cannot hold blobs


class FakeSource:
    def __init__(self, memory: Memory) -> None:
        self.m = memory

    def read_range(self, url: str, start: int, end: int) -> tuple[int, Iterator[bytes]]:
        data = self.m.files[url]
        return len(data), iter([data[start : end + 1]])

    def read_small(self, url: str, limit: int) -> bytes:
        return self.m.files[url][:limit]

    def delete(self, url: str) -> None:
        del self.m.files[url]


@pytest.fixture
def memory() -> Memory:
    memory = Memory()
    memory.calls["call-us"] = Call("call-us", "server-us", US)
    memory.calls["call-eu"] = Call("call-eu", "server-eu", EU)
    return memory


@pytest.fixture
def stores() -> dict[str, FakeStore]:
    return {"westeurope": FakeStore("weu"), "eastus": FakeStore("eus")}


@pytest.fixture
def service(memory: Memory, stores: dict[str, FakeStore]) -> Iterator[StorageService]:
    running = StorageService(
        lambda: FakeUnitOfWork(memory),
        storage_settings(),
        stores,
        FakeSource(memory),
        memory.clock,
        base_backoff=1.0,
    )
    yield running
    running.stop()


def file_event(
    memory: Memory, server_call_id: str, data: bytes, event_id: str = "event-1"
) -> RecordingFileEvent:
    """ACS announcing one chunk of a recording (one recording per event id here)."""
    url = f"https://acs.example/{event_id}/content"
    memory.files[url] = data
    chunk = RecordingChunk("document-1", 0, url, None, url)
    return RecordingFileEvent(event_id, server_call_id, f"recording-{event_id}", "wav", (chunk,))


def test_a_file_event_queues_its_chunk_once_in_the_callers_region(
    memory: Memory, service: StorageService
) -> None:
    assert service.accept(file_event(memory, "server-us", b"0123456789")) is Accepted.QUEUED
    assert service.accept(file_event(memory, "server-us", b"0123456789")) is Accepted.DUPLICATE
    assert service.accept(file_event(memory, "server-unknown", b"x", "event-2")) is Accepted.UNKNOWN_CALL
    (row,) = memory.rows.values()
    assert (row["region"], row["container"], row["state"]) == ("eastus", "eus", "pending")
    assert memory.actions() == ["recording.file_received"]


def test_a_chunk_is_copied_verified_registered_then_acs_copy_deleted(
    memory: Memory, stores: dict[str, FakeStore], service: StorageService
) -> None:
    data = b"a recording of ten bytes, more than one block"
    service.accept(file_event(memory, "server-eu", data))
    service.run_until_idle()
    (row,) = memory.rows.values()
    blob, metadata = stores["westeurope"].blobs[row["blob_name"]]
    assert blob == data and metadata["sha256"] == hashlib.sha256(data).hexdigest() == row["sha256"]
    assert metadata["ledger_ref"] == "consent_ledger:call=call-eu;through=7"
    assert (row["state"], row["acs_deleted"], memory.files) == ("stored", True, {})
    assert memory.actions() == ["recording.file_received", "recording.stored", "recording.acs_copy_deleted"]
    assert [e["type"] for e in memory.events] == []  # no EventLog given: nothing published


def test_a_failed_commit_is_retried_after_its_backoff_and_the_chunk_stored_once(
    memory: Memory, stores: dict[str, FakeStore], service: StorageService
) -> None:
    stores["westeurope"].fail_commits = 1
    service.accept(file_event(memory, "server-eu", b"0123456789"))
    service.run_until_idle()
    (row,) = memory.rows.values()
    assert (row["state"], row["available_at"]) == ("pending", NOW + timedelta(seconds=1))
    memory.now += timedelta(seconds=1)
    service.run_until_idle()
    assert row["state"] == "stored" and len(stores["westeurope"].blobs) == 1
    assert memory.actions().count("recording.stored") == 1


def test_a_chunk_that_keeps_failing_is_marked_failed_and_audited(
    memory: Memory, stores: dict[str, FakeStore], service: StorageService
) -> None:
    stores["westeurope"].fail_commits = 100
    service.accept(file_event(memory, "server-eu", b"0123456789"))
    for _ in range(service.max_attempts):
        service.run_until_idle()
        memory.now += timedelta(minutes=5)
    (row,) = memory.rows.values()
    assert (row["state"], row["attempts"]) == ("failed", service.max_attempts)
    assert memory.actions()[-1] == "recording.transfer_failed"


def test_retention_deletes_expired_recordings_except_those_on_hold(
    memory: Memory, stores: dict[str, FakeStore], service: StorageService
) -> None:
    memory.calls["call-eu-2"] = Call("call-eu-2", "server-eu-2", EU)
    service.accept(file_event(memory, "server-eu", b"first"))
    service.accept(file_event(memory, "server-eu-2", b"second", "event-2"))
    service.run_until_idle()
    memory.held.add("call-eu-2")
    assert service.apply_legal_hold("call-eu-2", True) == "unsupported"
    report = run_retention(service, NOW + timedelta(days=31))
    assert (report.examined, report.deleted, report.held, report.errors) == (2, 1, 1, [])
    assert [r["state"] for r in memory.rows.values()] == ["deleted", "stored"]
    assert len(stores["westeurope"].blobs) == 1
