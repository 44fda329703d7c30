"""Read model: where a call's recordings landed, for its timeline."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from recorder.db.tables.storage import StoredRecording
from recorder.services.storage.model import StoreState

SHOWN = (StoreState.STORED, StoreState.DELETED)  # pending or failed transfers are not stored recordings


def stored_recordings(session: Session, call_id: str) -> list[dict[str, Any]]:
    """A call's stored (and retention-deleted) recordings, for its timeline: the blob URL never has a SAS."""
    rows = session.scalars(
        select(StoredRecording)
        .where(StoredRecording.call_id == call_id, StoredRecording.state.in_(SHOWN))
        .order_by(StoredRecording.recording_id, StoredRecording.chunk_index)
    )
    return [
        {
            "recording_id": r.recording_id,
            "chunk_index": r.chunk_index,
            "state": r.state,
            "region": r.region,
            "container": r.container,
            "blob_url": r.blob_url and urlsplit(r.blob_url)._replace(query="", fragment="").geturl(),
            "sha256": r.sha256,
            "size": r.size,
            "stored_at": r.stored_at.isoformat() if r.stored_at else None,
            "deleted_at": r.deleted_at.isoformat() if r.deleted_at else None,
            "legal_hold": r.legal_hold,
        }
        for r in rows
    ]
