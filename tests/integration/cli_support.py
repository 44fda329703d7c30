"""Running ``recorder`` as a user does (a subprocess with only the RECORDER_* variables given), and what a
failed command must have left alone: every table's rows and the files in its directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, select

SERVE_ENV = {
    "RECORDER_ACS_ENDPOINT": "https://contoso.communication.azure.com",
    "RECORDER_ACS_RESOURCE_ID": "resource",
    "RECORDER_PUBLIC_URL": "https://recorder.contoso.example",
    "RECORDER_EVENTGRID_SECRET": "0123456789abcdef0",
}


def cli_env(env: dict[str, str] | None) -> dict[str, str]:
    """This process's environment without its RECORDER_* variables, plus ``env``."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("RECORDER_")}, **(env or {})}


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recorder", *args],
        env=cli_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def start_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """A long-running command (serve, demo), its output discarded."""
    return subprocess.Popen(
        [sys.executable, "-m", "recorder", *args],
        env=cli_env(env),
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def table_contents(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: equal before and after means nothing changed."""
    engine = create_engine(database_url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            return {
                name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
                for name, table in metadata.tables.items()
            }
    finally:
        engine.dispose()


def files_in(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
    }


@contextmanager
def port_in_use() -> Iterator[int]:
    """A port something else is listening on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])
