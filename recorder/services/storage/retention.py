"""Retention: delete stored recordings whose region's (or the default) retention has run out, unless held.

Each deletion removes the recording blob and its metadata JSON, marks the row ``deleted`` and appends an audit
entry; a call on legal hold (``uow.holds.is_on_hold``) is skipped and counted. A blob the account refuses to
delete (an immutability policy or a Blob legal hold) stays, and is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from recorder.services.storage.ports import StorageError
from recorder.services.storage.records import StoredRow
from recorder.services.storage.service import StorageService


@dataclass
class RetentionReport:
    examined: int = 0
    deleted: int = 0
    held: int = 0
    errors: list[str] = field(default_factory=list)


def expired(service: StorageService, now: datetime) -> list[int]:
    """Ids of stored rows past their region's retention, oldest first."""
    ids: list[int] = []
    with service.unit_of_work() as uow:
        for region in service.settings.regions:
            days = service.settings.retention_for(region)
            if days is not None:
                ids.extend(uow.storage.expired(region, now - timedelta(days=days)))
    return sorted(ids)


def run_retention(
    service: StorageService,
    now: datetime,
    progress: Callable[[int, int], None] = lambda done, total: None,
    *,
    actor: str = "retention",
) -> RetentionReport:
    report = RetentionReport()
    candidates = expired(service, now)
    for done, row_id in enumerate(candidates, start=1):
        report.examined += 1
        with service.unit_of_work() as uow:
            row = uow.storage.get(row_id)
            held = uow.holds.is_on_hold(row.call_id)
        if held:
            report.held += 1
        else:
            try:
                store = service.store_for(row.region, row.container)
                store.delete(row.blob_name)
                store.delete(row.metadata_blob)
            except StorageError as exc:
                report.errors.append(f"{row.blob_name}: {exc}")
            else:
                _mark_deleted(service, row, now, actor)
                report.deleted += 1
        progress(done, len(candidates))
    return report


def _mark_deleted(service: StorageService, row: StoredRow, now: datetime, actor: str) -> None:
    with service.unit_of_work() as uow:
        uow.storage.deleted(row.id, now)
        uow.audit.append(
            actor,
            "recording.deleted",
            row.call_id,
            {
                "reason": "retention",
                "recording_id": row.recording_id,
                "chunk_index": row.chunk_index,
                "region": row.region,
                "blob": row.blob_name,
                "sha256": row.sha256,
                "retention_days": service.settings.retention_for(row.region),
            },
            now,
        )
        uow.commit()
