"""Blob legal hold on a call's stored recordings, for the compliance API's legal holds.

Answers "applied", or "unsupported" where the account (Azurite answers 501) or the deployment (no storage
configured) cannot hold blobs; the outcome is recorded on the rows and audited.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from recorder.services.storage.ports import BlobStore
from recorder.services.storage.records import StorageUnitOfWork


class Holder(Protocol):
    """What a Blob legal hold needs of the storage service."""

    @property
    def unit_of_work(self) -> Callable[[], StorageUnitOfWork]: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    def store_for(self, region: str, container: str) -> BlobStore: ...


def blob_legal_hold(storage: Holder | None) -> Callable[[str, bool, StorageUnitOfWork], str]:
    """Set or clear a Blob legal hold on a call's stored blobs, in the caller's open unit of work (the
    compliance API's hold request), so rows and audit join its transaction; SQLite allows one writer."""

    def hold(call_id: str, on: bool, uow: StorageUnitOfWork) -> str:
        return "unsupported" if storage is None else apply_legal_hold(storage, call_id, on, uow)

    return hold


def apply_legal_hold(service: Holder, call_id: str, on: bool, uow: StorageUnitOfWork | None = None) -> str:
    if uow is not None:
        return _hold(service, uow, call_id, on)
    with service.unit_of_work() as own:
        outcome = _hold(service, own, call_id, on)
        own.commit()
    return outcome


def _hold(service: Holder, uow: StorageUnitOfWork, call_id: str, on: bool) -> str:
    rows = uow.storage.stored_of(call_id)
    outcome = "applied"
    for row in rows:
        store = service.store_for(row.region, row.container)
        for name in (row.blob_name, row.metadata_blob):
            if not store.set_legal_hold(name, on):
                outcome = "unsupported"
    now = service.clock()
    held = ("on" if on else "off") if outcome == "applied" else "unsupported"
    uow.storage.set_legal_hold([row.id for row in rows], held, now)
    data = {"on": on, "outcome": outcome, "blobs": len(rows)}
    uow.audit.append("recorder", "recording.legal_hold", call_id, data, now)
    return outcome
