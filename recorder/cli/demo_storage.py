"""Storage for ``recorder demo``: Azurite in memory, two regions, and where each recording landed.

When ``azurite-blob`` is on PATH (or under ``npm root -g``) the demo starts it in memory on a free port and
stores recordings in two regions on it: ``westeurope`` (the default) and ``eastus`` (callers whose raw id
starts with ``4:+1``). Without it the demo says how to get it and stores nothing.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from recorder.config.settings import is_loopback
from recorder.config.storage import StorageSettings, load_storage
from recorder.db.tables.storage import StoredRecording
from recorder.services.storage.service import StorageService
from recorder.services.storage.transfer import hash_blob

AZURITE_VERSION = "3.35.0"  # the newest that runs on Node 20
INSTALL_HINT = f"npm install -g azurite@{AZURITE_VERSION}"
DEV_ACCOUNT = "devstoreaccount1"
# Azurite's published development key (the same for every Azurite install): not a secret.
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_command() -> list[str] | None:
    """How to run azurite-blob: from PATH, or from npm's global modules; None when it is not installed."""
    found = shutil.which("azurite-blob")
    if found:
        return [found]
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None
    with suppress(OSError, subprocess.SubprocessError):
        # npm found on PATH, fixed arguments: nothing here comes from input
        found_root = subprocess.run(  # noqa: S603
            [npm, "root", "-g"], capture_output=True, text=True, timeout=20
        )
        root = found_root.stdout.strip()
        main = Path(root) / "azurite" / "dist" / "src" / "blob" / "main.js"
        if root and main.is_file():
            return [node, str(main)]
    return None


@dataclass(frozen=True)
class AzuriteAccount:
    """Azurite's well-known development account, served on a local port."""

    port: int

    @property
    def account_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{DEV_ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"BlobEndpoint={self.account_url};"
        )


@dataclass(frozen=True)
class DemoAzurite(AzuriteAccount):
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_azurite(command: list[str], timeout: float = 30) -> DemoAzurite:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    args = ["--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence"]
    process = subprocess.Popen(  # noqa: S603 - azurite_command(): an installed program, fixed arguments
        [*command, *args, "--skipApiVersionCheck", "--disableTelemetry", "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    running = DemoAzurite(port, process)
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"{running.account_url}?comp=list", timeout=1)
            return running
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                running.stop()
                raise RuntimeError("azurite-blob did not start") from None
            time.sleep(0.1)


def demo_storage_settings(azurite: DemoAzurite) -> StorageSettings:
    section = {
        "mode": "copy",
        "default_region": "westeurope",
        "regions": {
            "westeurope": {"container": "recordings-weu", "connection_string": azurite.connection_string},
            "eastus": {"container": "recordings-eus", "connection_string": azurite.connection_string},
        },
        "routes": [{"caller_prefix": "4:+1", "region": "eastus"}],
    }
    problems: list[str] = []
    settings = load_storage(section, problems, is_loopback)
    if settings is None:
        raise RuntimeError("; ".join(problems))
    return settings


def where_landed(
    storage: StorageService,
    sessions: sessionmaker[Session],
    emulator_url: str,
    server_call_id: str,
    recorded: bool,
) -> list[str]:
    """One line per stored chunk: region, container, blob, and whether the blob's sha256 (read back from the
    container now) matches the file ACS (the emulator) had. For a ``recorded`` call, waits for ACS's file
    event, which comes a while after the recording stopped."""
    deadline = time.monotonic() + 20
    while True:
        with sessions() as session:
            rows = list(
                session.scalars(
                    select(StoredRecording)
                    .where(StoredRecording.server_call_id == server_call_id)
                    .order_by(StoredRecording.chunk_index)
                )
            )
        settled = (rows or not recorded) and all(r.state != "pending" for r in rows)
        if settled or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if not rows:
        return [
            "nothing stored (no recording file arrived)"
            if recorded
            else "nothing stored (nothing was recorded)"
        ]
    files = httpx.get(f"{emulator_url}/emulator/recording-files", timeout=10).json()
    acs_sha = {f["recording_id"]: f["sha256"] for f in files if f["server_call_id"] == server_call_id}
    lines = []
    for row in rows:
        if row.state != "stored":
            lines.append(f"{row.state} in {row.region}: {row.last_error or 'still transferring'}")
            continue
        actual, _ = hash_blob(storage.store_for(row.region, row.container), row.blob_name, 1024 * 1024)
        verdict = (
            "matches ACS's file" if actual == row.sha256 == acs_sha.get(row.recording_id) else "MISMATCH"
        )
        lines.append(
            f"stored in {row.region}: container {row.container}, blob {row.blob_name}, "
            f"sha256 {actual} ({verdict})"
        )
    return lines
