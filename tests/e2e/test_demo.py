"""The README's first command: `recorder demo` runs calls through consent, its ledger is readable, and (with
Azurite installed, as in CI) each consented call's recording lands in its region's container, unaltered."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from azure.storage.blob import BlobServiceClient

from recorder.cli.demo import SCENARIOS
from recorder.cli.demo_storage import INSTALL_HINT
from tests.e2e.stack import free_port
from tests.integration.azurite import DEV_ACCOUNT, DEV_KEY

UNCONSENTED = re.compile(r"recorded without consent: (\d+) ms")
LANDED = re.compile(r"stored in (\S+): container (\S+), blob (\S+), sha256 ([0-9a-f]{64}) \((.+)\)")


def test_the_demo_ledger_is_readable_through_the_api(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECORDER_")}
    env["RECORDER_DATABASE_URL"] = f"sqlite:///{tmp_path / 'recorder.db'}"
    demo = subprocess.Popen(
        [sys.executable, "-m", "recorder", "demo", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert demo.stdout is not None
        deadline = time.monotonic() + 90
        curl = None
        while curl is None and time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line:
                break
            lines.append(line)
            curl = re.search(r"Authorization: Bearer (\S+)' (\S+/api/consents)", line)
        assert curl is not None, "".join(lines)
        output = "".join(lines)
        sections = {part.split("  (", 1)[0]: part for part in output.split("\n== ")[1:]}
        assert list(sections) == [title for title, _ in SCENARIOS]
        unconsented = {title: UNCONSENTED.findall(section) for title, section in sections.items()}
        assert all(len(figures) == 1 for figures in unconsented.values()), unconsented  # every call, measured
        for title in ("everyone agrees", "a caller from London agrees", "one declines", "one stays silent"):
            assert unconsented[title] == ["0"]
        for title in (
            "a late joiner agrees",
            "one withdraws",
        ):  # paused while the newcomer is asked / after 9
            assert "recording: started, paused, resumed, stopped" in sections[title]
        assert "withdrawn    via dtmf" in sections["one withdraws"]
        key, url = curl.groups()
        items = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=10).json()["items"]
        expected = ["granted"] * 9 + ["declined", "no_response", "withdrawn"]
        assert sorted(i["outcome"] for i in items) == sorted(expected)
        assert_recordings_landed(output)
        demo.send_signal(signal.SIGINT)  # Ctrl-C, as the demo tells its user
        assert demo.wait(30) == 130  # the documented exit code for an interrupted command
    finally:
        if demo.poll() is None:
            demo.terminate()
            demo.wait(15)
        if demo.stdout is not None:
            demo.stdout.close()


def assert_recordings_landed(output: str) -> None:
    """Each consented call's recording is in its region's container; read back, its sha256 is ACS's."""
    if shutil.which("azurite-blob") is None and not os.environ.get("CI"):
        assert INSTALL_HINT in output  # the demo says how to enable storage
        return
    storage = re.search(r"Blob storage \(Azurite, in memory\) (\S+):", output)
    emulator = re.search(r"ACS emulator (\S+),", output)
    assert storage is not None and emulator is not None, output
    sections = {part.split("  (", 1)[0]: part for part in output.split("\n== ")[1:]}
    expected = {
        "everyone agrees": "recordings-eus",
        "a caller from London agrees": "recordings-weu",
        "a late joiner agrees": "recordings-eus",
        "one withdraws": "recordings-eus",
    }
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
        f"BlobEndpoint={storage.group(1)};"
    )
    blobs = BlobServiceClient.from_connection_string(connection)
    files = httpx.get(f"{emulator.group(1)}/emulator/recording-files", timeout=10).json()
    acs_sha256 = {f["sha256"] for f in files}
    for title, container in expected.items():
        [landed] = LANDED.findall(sections[title])
        region, found_container, blob, sha256, verdict = landed
        assert (found_container, verdict) == (container, "matches ACS's file")
        assert region == {"recordings-eus": "eastus", "recordings-weu": "westeurope"}[container]
        content = blobs.get_blob_client(container, blob).download_blob().readall()
        assert hashlib.sha256(content).hexdigest() == sha256 and sha256 in acs_sha256
        metadata = blobs.get_blob_client(container, blob).get_blob_properties().metadata
        assert metadata["sha256"] == sha256 and metadata["region"] == region
    for title in ("one declines", "one stays silent"):
        assert "nothing stored (nothing was recorded)" in sections[title]
