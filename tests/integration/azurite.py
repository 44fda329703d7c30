"""Azurite (the Blob storage emulator), started in memory on a free port for a test session."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from recorder.cli.demo_storage import DEV_ACCOUNT, DEV_KEY
from recorder.cli.demo_storage import AzuriteAccount as Azurite

__all__ = ["DEV_ACCOUNT", "DEV_KEY", "Azurite", "start_azurite"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_azurite(workdir: Path) -> Iterator[Azurite]:
    binary = shutil.which("azurite-blob")
    if binary is None:
        problem = "azurite-blob is not installed (npm install -g azurite@3.35.0)"
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    port = _free_port()
    log = (workdir / "azurite.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--disableTelemetry",
        ],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/{DEV_ACCOUNT}?comp=list", timeout=1)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("Azurite did not start; see azurite.log") from None
                time.sleep(0.1)
        yield Azurite(port)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    yield from start_azurite(tmp_path_factory.mktemp("azurite"))
