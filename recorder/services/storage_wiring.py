"""Builds the storage service from settings: one blob store per region, the ACS recording source."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from recorder.config import Settings
from recorder.db.unit_of_work import UnitOfWork
from recorder.services.storage import StorageService
from recorder.services.storage_ports import BlobStore


def build_storage(
    settings: Settings, unit_of_work: Callable[[], UnitOfWork], clock: Callable[[], datetime]
) -> StorageService | None:
    """None when no ``[storage]`` is configured: recording file events are then only logged."""
    storage = settings.storage
    if storage is None:
        return None
    from recorder.adapters.blob_store import AzureBlobStore
    from recorder.adapters.credentials import access_key_and_credential
    from recorder.adapters.recording_download import AcsRecordingSource

    stores: dict[str, BlobStore] = {}
    for name, region in storage.regions.items():
        store = AzureBlobStore(region)
        if region.connection_string:  # local development: make the container; real ones are provisioned
            store.ensure_container()
        stores[name] = store
    key, credential = access_key_and_credential(settings)
    source = AcsRecordingSource(settings.acs_endpoint, key, credential, emulator_mode=settings.emulator_mode)
    return StorageService(
        unit_of_work, storage, stores, source, clock, acs_resource_id=settings.acs_resource_id or None
    )
