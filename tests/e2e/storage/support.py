"""What the storage e2e tests share: a two-region [storage] config on Azurite, and readers for its results."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from azure.storage.blob import BlobServiceClient, ContainerClient

from tests.e2e.stack import CONFIG, Stack
from tests.integration.azurite import Azurite

US_CALLER = "4:+14255550123"  # routed to eastus by caller prefix 4:+1


def storage_config(azurite: Azurite, tag: str, *, mode: str = "copy", extra: str = "") -> str:
    return (
        CONFIG
        + f"""
[storage]
mode = "{mode}"
default_region = "westeurope"
retention_days = 30
block_size_mib = 1
{extra}

[storage.regions.westeurope]
container = "weu-{tag}"
connection_string = "{azurite.connection_string}"

[storage.regions.eastus]
container = "eus-{tag}"
connection_string = "{azurite.connection_string}"

[[storage.routes]]
caller_prefix = "4:+1"
region = "eastus"
"""
    )


def until(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def container(azurite: Azurite, name: str) -> ContainerClient:
    return BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(name)


def blobs(azurite: Azurite, name: str) -> list[Any]:
    client = container(azurite, name)
    return list(client.list_blobs(include=["metadata", "tags"])) if client.exists() else []


def api(stack: Stack, key: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
    return httpx.request(method, f"{stack.service_url}{path}", headers=headers, timeout=10, **kwargs)


def timeline(stack: Stack, call_connection_id: str) -> dict[str, Any]:
    response = api(stack, stack.auditor_key, "GET", f"/api/calls/{call_connection_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def acs_files(stack: Stack, server_call_id: str) -> list[dict[str, Any]]:
    files = httpx.get(f"{stack.emulator_url}/emulator/recording-files", timeout=10).json()
    return [f for f in files if f["server_call_id"] == server_call_id]


def service_key(stack: Stack) -> str:
    created = stack.cli("keys", "create", "--role", "service", "--name", "call-center app")
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]
