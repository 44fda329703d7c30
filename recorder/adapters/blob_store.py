"""One region's blob container over azure-storage-blob; the only module that imports it.

Real accounts are reached with Managed Identity (``DefaultAzureCredential``) on ``account_url``; a
``connection_string`` (an account key) is for Azurite and local development only. No SAS is ever made, so no
URL this module returns carries a secret. SDK errors become ``StorageError`` here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
)
from azure.storage.blob import BlobBlock, BlobServiceClient, ContainerClient, ContentSettings

from recorder.adapters.azure_errors import Kind, read_azure_error
from recorder.config.storage import StorageRegion
from recorder.services.storage.ports import BlobExists, BlobInfo, StorageError

log = logging.getLogger("recorder.blob_store")
T = TypeVar("T")
# A legal hold or immutability policy the account cannot take: Azurite answers 501; a real account without
# version-level immutability answers 409/400 with one of these codes.
UNSUPPORTED_CODES = ("FeatureNotSupported", "NotImplemented", "ImmutableStorage", "VersionLevelWorm")


def container_client(region: StorageRegion, **kwargs: Any) -> ContainerClient:
    """Managed Identity for ``account_url``; an account key (connection string) only for local development."""
    if region.connection_string:
        service = BlobServiceClient.from_connection_string(region.connection_string, **kwargs)
        return service.get_container_client(region.container)
    from azure.identity import DefaultAzureCredential

    assert region.account_url is not None
    return ContainerClient(
        region.account_url, region.container, credential=DefaultAzureCredential(), **kwargs
    )


def container_problem(region: StorageRegion) -> str | None:
    """Why ``region``'s container cannot be used right now (unreachable, refused, missing), read-only and
    without retries; None when it is there."""
    container = container_client(region, retry_total=0, connection_timeout=10)
    try:
        exists = _call(container.exists)
    except StorageError as exc:
        return f"{container.url}: {exc}"
    return None if exists else f"{container.url}: the container does not exist"


class AzureBlobStore:
    def __init__(self, region: StorageRegion, **client_kwargs: Any) -> None:
        self._region = region
        self._container = container_client(region, **client_kwargs)

    @property
    def location(self) -> str:
        return f"{self._container.url.rstrip('/')}"

    def ensure_container(self) -> None:
        try:
            _call(self._container.create_container)
        except StorageError as exc:
            if exc.status != 409:
                raise

    def url_of(self, blob_name: str) -> str:
        return str(self._container.get_blob_client(blob_name).url)

    def staged_blocks(self, blob_name: str) -> list[tuple[str, int]]:
        blob = self._container.get_blob_client(blob_name)
        try:
            _, uncommitted = _call(lambda: blob.get_block_list("uncommitted"))
        except StorageError as exc:
            if exc.status == 404:
                return []
            raise
        return [(str(b.id), int(b.size)) for b in uncommitted]  # the SDK base64-decodes the ids

    def stage_block(self, blob_name: str, block_id: str, data: bytes) -> None:
        blob = self._container.get_blob_client(blob_name)
        # validate_content: the service checks each block's MD5, so what we hashed is what it stored.
        _call(lambda: blob.stage_block(block_id, data, length=len(data), validate_content=True))

    def commit_new(
        self,
        blob_name: str,
        block_ids: list[str],
        *,
        content_type: str,
        metadata: Mapping[str, str],
        tags: Mapping[str, str],
    ) -> None:
        blob = self._container.get_blob_client(blob_name)
        try:
            _call(
                lambda: blob.commit_block_list(
                    [BlobBlock(block_id=i) for i in block_ids],
                    content_settings=ContentSettings(content_type=content_type),
                    metadata=dict(metadata),
                    tags=dict(tags),
                    match_condition=MatchConditions.IfMissing,
                )
            )
        except StorageError as exc:
            if exc.status in (409, 412):
                raise BlobExists(blob_name) from None
            raise

    def put_new(self, blob_name: str, data: bytes, *, content_type: str, metadata: Mapping[str, str]) -> None:
        blob = self._container.get_blob_client(blob_name)
        try:
            _call(
                lambda: blob.upload_blob(
                    data,
                    overwrite=False,
                    content_settings=ContentSettings(content_type=content_type),
                    metadata=dict(metadata),
                )
            )
        except StorageError as exc:
            if exc.status in (409, 412):
                raise BlobExists(blob_name) from None
            raise

    def info(self, blob_name: str) -> BlobInfo | None:
        blob = self._container.get_blob_client(blob_name)
        try:
            props = _call(blob.get_blob_properties)
            tags = _call(blob.get_blob_tags)
        except StorageError as exc:
            if exc.status == 404:
                return None
            raise
        return BlobInfo(blob_name, str(blob.url), int(props.size), dict(props.metadata or {}), dict(tags))

    def set_tags_and_metadata(
        self, blob_name: str, metadata: Mapping[str, str], tags: Mapping[str, str]
    ) -> None:
        blob = self._container.get_blob_client(blob_name)
        _call(lambda: blob.set_blob_metadata(dict(metadata)))
        _call(lambda: blob.set_blob_tags(dict(tags)))

    def read(self, blob_name: str, chunk_size: int) -> Iterator[bytes]:
        blob = self._container.get_blob_client(blob_name)
        downloader = _call(lambda: blob.download_blob(max_concurrency=1))
        try:
            yield from downloader.chunks()
        except AzureError as exc:
            raise _translate(exc) from None

    def read_small(self, blob_name: str, limit: int) -> bytes:
        blob = self._container.get_blob_client(blob_name)
        data: bytes = _call(lambda: blob.download_blob(offset=0, length=limit + 1).readall())
        if len(data) > limit:
            raise StorageError(f"blob {blob_name} is larger than {limit} bytes", transient=False)
        return data

    def list_names(self, prefix: str) -> list[str]:
        return _call(lambda: [str(b.name) for b in self._container.list_blobs(name_starts_with=prefix)])

    def delete(self, blob_name: str) -> bool:
        blob = self._container.get_blob_client(blob_name)
        try:
            _call(lambda: blob.delete_blob(delete_snapshots="include"))
        except StorageError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def set_legal_hold(self, blob_name: str, on: bool) -> bool:
        blob = self._container.get_blob_client(blob_name)
        try:
            blob.set_legal_hold(on)
        except HttpResponseError as exc:
            if _unsupported(exc):
                log.info("storage.legal_hold_unsupported", extra={"status": exc.status_code})
                return False
            raise _translate(exc) from None
        except AzureError as exc:
            raise _translate(exc) from None
        return True


def _unsupported(exc: HttpResponseError) -> bool:
    code = str(getattr(exc, "error_code", "") or "")
    return exc.status_code == 501 or any(c.lower() in code.lower() for c in UNSUPPORTED_CODES)


def _call(operation: Callable[[], T]) -> T:
    try:
        return operation()
    except AzureError as exc:
        raise _translate(exc) from None


def _translate(exc: AzureError) -> StorageError:
    failure = read_azure_error(exc)
    messages = {
        Kind.EXISTS: f"storage: already exists ({failure.code})",
        Kind.NOT_FOUND: f"storage: not found ({failure.code})",
        Kind.UNAUTHORIZED: f"storage answered {failure.status} ({failure.code})",
        Kind.ANSWERED: f"storage answered {failure.status} ({failure.code})",
        Kind.UNREACHABLE: f"storage unreachable: {failure.name}",
    }
    message = messages.get(failure.kind, f"storage error: {failure.name}")
    return StorageError(message, transient=failure.transient, status=failure.status)
