"""Builds the storage service from settings: one blob store per region, the ACS recording source."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from recorder.config.settings import Settings
from recorder.db.unit_of_work import UnitOfWork
from recorder.services.storage.ports import BlobStore, RecordingSource, StorageError
from recorder.services.storage.register import StoredObserver
from recorder.services.storage.service import StorageService


def build_storage(
    settings: Settings,
    unit_of_work: Callable[[], UnitOfWork],
    clock: Callable[[], datetime],
    *,
    source: bool = True,
    provision: bool = True,
    events: StoredObserver | None = None,
) -> StorageService | None:
    """None when no ``[storage]`` is configured: recording file events are then only logged.

    ``source=False`` (the retention command) builds no ACS client: nothing is downloaded; ``provision=False``
    (the retention command too) creates no container, even for local development. ``events``
    publishes ``recorder.recording.stored`` when a recording is registered.
    """
    storage = settings.storage
    if storage is None:
        return None
    from recorder.adapters.blob_store import AzureBlobStore
    from recorder.adapters.credentials import access_key_and_credential
    from recorder.adapters.recording_download import AcsRecordingSource

    stores: dict[str, BlobStore] = {}
    for name, region in storage.regions.items():
        store = AzureBlobStore(region)
        if provision and region.connection_string:  # local development: make it; real ones are provisioned
            store.ensure_container()
        stores[name] = store
    recordings: RecordingSource = NoRecordingSource()
    if source:
        key, credential = access_key_and_credential(settings)
        recordings = AcsRecordingSource(
            settings.acs_endpoint, key, credential, emulator_mode=settings.emulator_mode
        )
    return StorageService(
        unit_of_work,
        storage,
        stores,
        recordings,
        clock,
        acs_resource_id=settings.acs_resource_id or None,
        events=events,
    )


class NoRecordingSource:
    def read_range(self, url: str, start: int, end: int) -> tuple[int, Iterator[bytes]]:
        raise StorageError("no ACS client in this process", transient=True)

    def read_small(self, url: str, limit: int) -> bytes:
        raise StorageError("no ACS client in this process", transient=True)

    def delete(self, url: str) -> None:
        raise StorageError("no ACS client in this process", transient=True)
