#!/usr/bin/env python3
"""Benchmark: one recording (1 GiB by default) from the ACS emulator into Azurite through the storage service.

Prints the transfer's throughput, the throughput of a plain azure-storage-blob ``upload_blob`` of the same
bytes to the same Azurite in the same run, their ratio (target >= 0.8), and the peak RSS growth of this
process during the transfer (target <= 100 MiB). The emulator and Azurite run as separate processes.

    .venv/bin/python benchmarks/transfer.py [--size-mib 1024]
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from azure.storage.blob import BlobServiceClient

from recorder.adapters.blob_store import AzureBlobStore
from recorder.adapters.recording_download import AcsRecordingSource
from recorder.config.settings import is_loopback
from recorder.config.storage import load_storage
from recorder.db.engine import make_engine, session_factory
from recorder.db.migrate import upgrade
from recorder.db.unit_of_work import UnitOfWork
from recorder.domain.consent import new_inbound_call
from recorder.emulator.recording_files import RecordingFile
from recorder.services.storage.model import RecordingChunk, RecordingFileEvent
from recorder.services.storage.ports import BlobStore
from recorder.services.storage.service import StorageService
from tests.e2e.stack import free_port, wait_http
from tests.integration.azurite import start_azurite

MIB = 1024 * 1024


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PatternReader(io.RawIOBase):
    """The emulator's bytes for ``document_id``, generated here: the plain upload's source."""

    def __init__(self, file: RecordingFile) -> None:
        self._pieces = file.read(0, file.size - 1)
        self._left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._left:
            self._left = next(self._pieces, b"")
            if not self._left:
                return 0
        n = min(len(buffer), len(self._left))
        buffer[:n] = self._left[:n]
        self._left = self._left[n:]
        return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    size = parser.parse_args().size_mib * MIB
    work = Path(tempfile.mkdtemp(prefix="bench-transfer-"))
    azurite_run = start_azurite(work)
    azurite = next(azurite_run)
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECORDER_")}
    emulator = subprocess.Popen(
        [sys.executable, "-m", "recorder", "emulator", "--port", str(port), "--access-key", key],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        emulator_url = f"http://127.0.0.1:{port}"
        wait_http(f"{emulator_url}/calling/keys")
        return run(emulator_url, key, azurite.connection_string, size, work)
    finally:
        emulator.terminate()
        emulator.wait(10)
        next(azurite_run, None)


def run(emulator_url: str, key: str, connection_string: str, size: int, work: Path) -> int:
    database = f"sqlite:///{work / 'bench.db'}"
    upgrade(database)
    sessions = session_factory(make_engine(database))
    problems: list[str] = []
    settings = load_storage(
        {
            "default_region": "bench",
            "delete_acs_copy": False,
            "regions": {"bench": {"container": "bench", "connection_string": connection_string}},
        },
        problems,
        is_loopback,
    )
    assert settings is not None, problems
    store = AzureBlobStore(settings.regions["bench"])
    store.ensure_container()
    stores: dict[str, BlobStore] = {"bench": store}
    source = AcsRecordingSource(emulator_url, key, None, emulator_mode=True)
    service = StorageService(
        lambda: UnitOfWork(sessions), settings, stores, source, lambda: datetime.now(UTC)
    )
    call_id, server_call_id = str(uuid.uuid4()), "bench-" + uuid.uuid4().hex
    with UnitOfWork(sessions) as uow:
        state = new_inbound_call(call_id, server_call_id, "ctx", "en-US").state
        uow.calls.add(state, datetime.now(UTC), direction="inbound", caller="4:+14255550100")
        uow.commit()
    made = httpx.post(
        f"{emulator_url}/emulator/recording-files",
        json={"server_call_id": server_call_id, "recording_id": "bench", "size": size},
        timeout=60,
    ).json()
    document_id = made["document_id"]
    base = f"https://us-storage.asm.skype.com/v1/objects/{document_id}"
    event = RecordingFileEvent(
        event_id=str(uuid.uuid4()),
        server_call_id=server_call_id,
        recording_id="bench",
        format="wav",
        chunks=(
            RecordingChunk(document_id, 0, f"{base}/content/audio", f"{base}/content/acsmetadata", None),
        ),
    )

    rss_before = rss_mib()
    started = time.perf_counter()
    service.accept(event)
    service.run_until_idle()
    transfer_s = time.perf_counter() - started
    peak_growth = peak_rss_mib() - rss_before
    with sessions() as session:
        from recorder.db.tables.storage import StoredRecording

        row = session.query(StoredRecording).one()
        assert row.state == "stored", row.last_error
    expected = httpx.get(f"{emulator_url}/emulator/recording-files/{document_id}", timeout=600).json()[
        "sha256"
    ]
    assert row.sha256 == expected, (row.sha256, expected)

    plain = BlobServiceClient.from_connection_string(connection_string).get_blob_client("bench", "plain.wav")
    reader = io.BufferedReader(PatternReader(RecordingFile(document_id, server_call_id, "bench", size)), MIB)
    started = time.perf_counter()
    plain.upload_blob(reader, length=size, max_concurrency=4, overwrite=True)
    plain_s = time.perf_counter() - started

    mib = size / MIB
    ratio = (mib / transfer_s) / (mib / plain_s)
    print(f"recording size:                 {mib:.0f} MiB (sha256 {(row.sha256 or '')[:16]}… verified)")
    print(f"transfer emulator -> Azurite:   {transfer_s:.1f} s, {mib / transfer_s:.1f} MiB/s")
    print(f"plain upload_blob, same bytes:  {plain_s:.1f} s, {mib / plain_s:.1f} MiB/s")
    print(f"throughput ratio:               {ratio:.2f} (target >= 0.8)")
    print(f"peak RSS growth during transfer: {peak_growth:.1f} MiB (target <= 100 MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
