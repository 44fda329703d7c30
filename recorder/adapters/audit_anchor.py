"""Chain-head anchors in Blob Storage: one append blob per UTC day, one JSON line per anchor.

Append blobs only grow, and an account with version-level immutability (a time-based retention policy with
protected append writes on the anchor container) keeps even the account owner from rewriting them. So a
database restored or rewritten wholesale no longer matches what was anchored at the time.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient, ExponentialRetry

from recorder.services.compliance.ports import Anchor, AnchorStoreError

PREFIX = "anchors/"


class BlobAnchorStore:
    def __init__(self, container: ContainerClient) -> None:
        self._container = container
        self._container_ready = False

    @classmethod
    def from_settings(
        cls, account_url: str | None, container: str, connection_string: str | None
    ) -> BlobAnchorStore:
        # few, quick retries: an anchor that fails is tried again at the next interval anyway
        retry = ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=1)
        options: dict[str, Any] = {"retry_policy": retry, "connection_timeout": 5}
        if connection_string:  # Azurite only
            service = BlobServiceClient.from_connection_string(connection_string, **options)
        else:
            from azure.identity import DefaultAzureCredential

            service = BlobServiceClient(str(account_url), credential=DefaultAzureCredential(), **options)
        return cls(service.get_container_client(container))

    def append(self, anchor: Anchor) -> str:
        """Write one anchor; returns the blob's name."""
        name = f"{PREFIX}{anchor.at.date().isoformat()}.jsonl"
        line = json.dumps({"seq": anchor.seq, "hash": anchor.hash, "at": anchor.at.isoformat()}) + "\n"
        try:
            self._ensure_container()
            blob = self._container.get_blob_client(name)
            with contextlib.suppress(ResourceExistsError):
                blob.create_append_blob(if_none_match="*")
            blob.append_block(line.encode())
        except AzureError as exc:
            raise AnchorStoreError(f"cannot write anchor: {type(exc).__name__}") from exc
        return name

    def anchors(self) -> list[Anchor]:
        found: list[Anchor] = []
        try:
            for item in self._container.list_blobs(name_starts_with=PREFIX):
                content = self._container.get_blob_client(item.name).download_blob().readall()
                found.extend(_parse(line) for line in content.decode().splitlines() if line.strip())
        except ResourceNotFoundError:
            return []
        except (AzureError, ValueError, KeyError) as exc:
            raise AnchorStoreError(f"cannot read anchors: {type(exc).__name__}") from exc
        return found

    def _ensure_container(self) -> None:
        if self._container_ready:
            return
        with contextlib.suppress(ResourceExistsError):
            self._container.create_container()
        self._container_ready = True


def _parse(line: str) -> Anchor:
    raw: dict[str, Any] = json.loads(line)
    return Anchor(int(raw["seq"]), str(raw["hash"]), datetime.fromisoformat(raw["at"]))
