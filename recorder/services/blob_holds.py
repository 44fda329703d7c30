"""Blob legal hold on a call's stored recordings, for the compliance API's legal holds.

Answers "applied", or "unsupported" where the account (Azurite answers 501) or the deployment (no storage
configured) cannot hold blobs; the outcome is recorded on the rows and audited.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select

from recorder.db.storage_tables import StoredRecording
from recorder.services.storage_model import StoreState

if TYPE_CHECKING:
    from recorder.services.storage import StorageService


class HasStorage(Protocol):
    storage: StorageService | None


def apply_blob_legal_hold(container: HasStorage, call_id: str, on: bool) -> str:
    """Set or clear a Blob legal hold on a call's stored blobs."""
    if container.storage is None:
        return "unsupported"
    return apply_legal_hold(container.storage, call_id, on)


def apply_legal_hold(service: StorageService, call_id: str, on: bool) -> str:
    with service.unit_of_work() as uow:
        rows = list(
            uow.session.scalars(
                select(StoredRecording).where(
                    StoredRecording.call_id == call_id, StoredRecording.state == StoreState.STORED
                )
            )
        )
        uow.session.expunge_all()
    outcome = "applied"
    for row in rows:
        store = service.store_for(row.region, row.container)
        for name in (row.blob_name, row.metadata_blob):
            if not store.set_legal_hold(name, on):
                outcome = "unsupported"
        service.update_row(
            row.id, legal_hold=("on" if on else "off") if outcome == "applied" else "unsupported"
        )
    with service.unit_of_work() as uow:
        data = {"on": on, "outcome": outcome, "blobs": len(rows)}
        uow.audit.append("recorder", "recording.legal_hold", call_id, data, service.clock())
        uow.commit()
    return outcome
