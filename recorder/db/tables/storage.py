"""Stored recordings: where each chunk of a call's recording landed, its hash, and its life cycle.

One row per (recording id, chunk index): the unique constraint is what makes a duplicate
RecordingFileStatusUpdated event harmless. The row is also the transfer's resumable state: ``state`` says
what is left to do, ``claimed_until`` is the worker's lease, ``staged_bytes`` how far the upload got.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from recorder.db.tables.base import Base, OfCall, Serial, UTCDateTime


class StoredRecording(Base):
    __tablename__ = "stored_recordings"
    __table_args__ = (
        UniqueConstraint("recording_id", "chunk_index", name="uq_stored_recordings_recording_id_chunk_index"),
        Index("ix_stored_recordings_work", "state", "available_at"),
    )

    id: Mapped[Serial]
    call_id: Mapped[OfCall]
    server_call_id: Mapped[str] = mapped_column(String(1024))
    recording_id: Mapped[str] = mapped_column(String(512))
    chunk_index: Mapped[int] = mapped_column(Integer)
    document_id: Mapped[str] = mapped_column(String(256))
    mode: Mapped[str] = mapped_column(String(8))
    region: Mapped[str] = mapped_column(String(64))
    account_url: Mapped[str] = mapped_column(String(512))
    container: Mapped[str] = mapped_column(String(63))
    blob_name: Mapped[str] = mapped_column(String(1024))
    metadata_blob: Mapped[str] = mapped_column(String(1024))
    blob_url: Mapped[str | None] = mapped_column(String(2048))
    content_location: Mapped[str] = mapped_column(Text)
    metadata_location: Mapped[str | None] = mapped_column(Text)
    delete_location: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    staged_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    acs_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    legal_hold: Mapped[str | None] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    event_id: Mapped[str] = mapped_column(String(256))
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
