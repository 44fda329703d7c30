"""The directory prometheus-client's multiprocess mode keeps its per-worker files in.

Set up by ``recorder serve`` before anything imports prometheus_client (it reads the variable at import),
so this module must not import it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir(workers: int, env: dict[str, str] | os._Environ[str]) -> Path | None:
    """Before uvicorn forks its workers: give them one directory for their metric files, emptied of any
    previous run's files (prometheus-client needs a clean directory per run)."""
    if workers <= 1 and not env.get(MULTIPROC_ENV):
        return None
    configured = env.get(MULTIPROC_ENV)
    directory = Path(configured) if configured else Path(tempfile.mkdtemp(prefix="recorder-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    env[MULTIPROC_ENV] = str(directory)
    return directory


def remove_multiprocess_dir(directory: Path | None, env: dict[str, str] | os._Environ[str]) -> None:
    if directory is not None and directory.name.startswith("recorder-metrics-"):
        shutil.rmtree(directory, ignore_errors=True)
        env.pop(MULTIPROC_ENV, None)
