"""Compliance tables: legal holds and erasure tombstones (issue 5). The audit_log triggers live in 0005."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from recorder.db.tables.base import Base, OfCall, Serial, UTCDateTime
from recorder.db.tables.calls import CallParticipant


class LegalHold(Base):
    """A hold on one call: while it has no ``released_at``, nothing of that call may be erased or deleted."""

    __tablename__ = "legal_holds"

    id: Mapped[Serial]
    call_id: Mapped[OfCall]
    reason: Mapped[str] = mapped_column(String(512))
    set_by: Mapped[str] = mapped_column(String(128))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_by: Mapped[str | None] = mapped_column(String(128))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    release_reason: Mapped[str | None] = mapped_column(String(512))
    blob_hold: Mapped[str | None] = mapped_column(String(32))


class ErasureTombstone(Base):
    """What an erasure left behind: hashes only, never the erased identity or content."""

    __tablename__ = "erasure_tombstones"

    id: Mapped[Serial]
    subject_sha256: Mapped[str] = mapped_column(String(64), index=True)
    requested_by: Mapped[str] = mapped_column(String(128))
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime)
    audit_seq: Mapped[int] = mapped_column(Integer)
    ledger_rows: Mapped[list[Any]] = mapped_column(JSON)
    audit_entries: Mapped[list[Any]] = mapped_column(JSON)


# Searching calls by participant (GET /api/calls?participant=…) needs raw_id on its own.
Index("ix_participants_raw_id", CallParticipant.raw_id)
