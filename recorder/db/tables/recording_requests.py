"""Recording requests from call-center apps, and the per-call queue of events the service publishes.

``recording_requests``: one row per request; ``(key_id, idempotency_key)`` is unique, so a retried POST finds
the first request instead of connecting to the call again. ``event_outbox``: one row per published event,
written in the same transaction as the decision it reports; ``(call_id, call_seq)`` is the order in which a
call's events are sent, and ``id`` (a uuid5 of the call id and ``call_seq``) the stable CloudEvent id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from recorder.db.tables.base import Base, OfCall, Serial, UTCDateTime


class RecordingRequest(Base):
    __tablename__ = "recording_requests"
    __table_args__ = (
        UniqueConstraint("key_id", "idempotency_key", name="uq_recording_requests_key_id_idempotency_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(160))  # an API key id or "entra:<object id>"
    idempotency_key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(
        String(64)
    )  # sha256 of the request body: a reused key must match
    kind: Mapped[str] = mapped_column(String(16))  # connect | existing | outbound
    call_id: Mapped[OfCall]
    server_call_id: Mapped[str | None] = mapped_column(String(1024))
    call_connection_id: Mapped[str | None] = mapped_column(String(128))
    target: Mapped[str | None] = mapped_column(String(256))
    source_caller_id: Mapped[str | None] = mapped_column(String(32))
    region: Mapped[str | None] = mapped_column(String(64))
    external_reference: Mapped[str | None] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(16))  # open | stop_requested | failed
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutgoingEventRow(Base):
    __tablename__ = "event_outbox"
    __table_args__ = (
        UniqueConstraint("call_id", "call_seq", name="uq_event_outbox_call_id_call_seq"),
        Index("ix_event_outbox_pending", "status", "available_at"),
    )

    seq: Mapped[Serial]
    id: Mapped[str] = mapped_column(String(36), unique=True)
    call_id: Mapped[OfCall]
    call_seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(1100))
    subject: Mapped[str] = mapped_column(String(256))
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending | published | local (no topic configured)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
