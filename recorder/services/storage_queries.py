"""Read model: where a call's recordings landed (for ``recorder demo`` and operators)."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from recorder.db.storage_tables import StoredRecording


def where_stored(sessions: sessionmaker[Session], server_call_id: str, wait_s: float = 0.0) -> list[str]:
    """One line per chunk: state, region, container/blob and sha256; waits up to ``wait_s`` for transfers."""
    deadline = time.monotonic() + wait_s
    while True:
        with sessions() as session:
            rows = list(
                session.scalars(
                    select(StoredRecording)
                    .where(StoredRecording.server_call_id == server_call_id)
                    .order_by(StoredRecording.chunk_index)
                )
            )
        if all(r.state != "pending" for r in rows) or time.monotonic() >= deadline:
            return [
                f"{r.state} in {r.region}: {r.container}/{r.blob_name}"
                + (f" sha256 {r.sha256}" if r.sha256 else "")
                for r in rows
            ]
        time.sleep(0.2)
