"""Registering a verified blob: one transaction marks the row stored, audits it and publishes it.

The row moves from ``pending`` to ``stored`` only once (a conditional update), so two workers that both
finished the same chunk (a lease that ran out) register it, audit it and publish it once. The published
``recorder.recording.stored`` event is written by issue 9's ``EventLog.recording_stored`` in this same
transaction, under the call's lock (its per-call sequence needs one writer per call).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from recorder.domain.model import CallState
from recorder.services.calls.ports import HasEvents
from recorder.services.storage.records import StorageUnitOfWork, StoredRow
from recorder.services.storage.transfer import Transferred

log = logging.getLogger("recorder.storage")


class StoredObserver(Protocol):
    """``publishing.event_log.EventLog`` in the service: publishes ``recorder.recording.stored``."""

    def recording_stored(
        self, uow: HasEvents, state: CallState, recording_id: str, details: dict[str, Any], at: datetime
    ) -> str: ...


class Registrar(Protocol):
    """What registering needs of the storage service."""

    @property
    def unit_of_work(self) -> Callable[[], StorageUnitOfWork]: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def events(self) -> StoredObserver | None: ...


def register(service: Registrar, row: StoredRow, stored: Transferred, blob: str) -> bool:
    """True when this call registered the row (stored in ``blob``); False when another worker already had."""
    now = service.clock()
    with service.unit_of_work() as uow:
        state = uow.calls.get(row.call_id, lock=True)
        facts = {
            "sha256": stored.sha256,
            "size": stored.size,
            "staged_bytes": stored.size,
            "blob_url": stored.url,
        }
        if not uow.storage.register(row.id, now, **facts):
            log.info("recording.already_registered", extra={"call_id": row.call_id, "row": row.id})
            return False
        where = {
            "chunk_index": row.chunk_index,
            "region": row.region,
            "container": row.container,
            "sha256": stored.sha256,
            "size": stored.size,
        }
        uow.audit.append(
            "recorder",
            "recording.stored",
            row.call_id,
            {"recording_id": row.recording_id, **where, "blob": blob, "resumed_from": stored.resumed_from},
            now,
        )
        if service.events is not None and state is not None:
            details = {**where, "blob_url": stored.url, "mode": row.mode}
            service.events.recording_stored(uow, state, row.recording_id, details, now)
        uow.commit()
    log.info("recording.stored", extra={"call_id": row.call_id, "region": row.region, "size": stored.size})
    return True
