"""The README's first command: `recorder demo` runs calls through consent, and its ledger is readable."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.stack import free_port


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
        assert output.count("recorded without consent: 0 ms") == 3
        assert "recording: started" in output
        key, url = curl.groups()
        items = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=10).json()["items"]
        assert sorted(i["outcome"] for i in items) == sorted(["granted"] * 4 + ["declined", "no_response"])
    finally:
        demo.terminate()
        demo.wait(15)
        if demo.stdout is not None:
            demo.stdout.close()
