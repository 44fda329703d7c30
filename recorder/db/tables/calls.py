"""Calls, their participants, the consent ledger, recording segments, the inbox and the command outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from recorder.db.tables.base import Base, OfCall, Serial, UTCDateTime


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    call_connection_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    server_call_id: Mapped[str] = mapped_column(String(1024), index=True)
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(16))
    caller: Mapped[str | None] = mapped_column(String(256))
    callee: Mapped[str | None] = mapped_column(String(256))
    locale: Mapped[str] = mapped_column(String(32))
    phase: Mapped[str] = mapped_column(String(16))
    recording: Mapped[str] = mapped_column(String(16))
    recording_id: Mapped[str | None] = mapped_column(String(512))
    recording_reported: Mapped[str] = mapped_column(String(16), default="")
    recording_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recording_first_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recording_pending: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    recording_report_fresh: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    recording_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    participants_sequence: Mapped[int] = mapped_column(Integer, default=0)
    participants_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    participants_unclear: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    own_identities: Mapped[list[str] | None] = mapped_column(JSON)
    # calls that were live before 0011 knew no identities and prompted anyway: they keep doing so
    identities_known: Mapped[bool] = mapped_column(Boolean, default=False, server_default=true())
    media_turn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CallParticipant(Base):
    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("call_id", "raw_id", name="uq_participants_call_id_raw_id"),)

    id: Mapped[Serial]
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    raw_id: Mapped[str] = mapped_column(String(256))
    present: Mapped[bool] = mapped_column(Boolean)
    consent: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    prompts_sent: Mapped[int] = mapped_column(Integer, default=0)
    prompted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    prompt: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    exempt_reason: Mapped[str | None] = mapped_column(String(256))


class ConsentEntry(Base):
    """The consent ledger: one row per decision, never updated."""

    __tablename__ = "consent_ledger"
    __table_args__ = (
        Index("ix_consent_ledger_participant_decided", "participant", "decided_at", "id"),
        Index("ix_consent_ledger_decided", "decided_at", "id"),
    )

    id: Mapped[Serial]
    call_id: Mapped[OfCall]
    call_connection_id: Mapped[str | None] = mapped_column(String(128), index=True)
    server_call_id: Mapped[str] = mapped_column(String(1024))
    participant: Mapped[str] = mapped_column(String(256))
    outcome: Mapped[str] = mapped_column(String(16), index=True)
    method: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(256))
    dtmf: Mapped[str | None] = mapped_column(String(32))
    prompt_id: Mapped[str | None] = mapped_column(String(128))
    prompt_version: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(32))
    prompt_sha256: Mapped[str | None] = mapped_column(String(64))
    prompted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    event_id: Mapped[str | None] = mapped_column(String(256))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RecordingSegment(Base):
    __tablename__ = "recording_segments"

    id: Mapped[Serial]
    call_id: Mapped[OfCall]
    recording_id: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    event_id: Mapped[str | None] = mapped_column(String(256))


class InboxEvent(Base):
    """Every delivered event id, once: the de-duplication of at-least-once deliveries."""

    __tablename__ = "inbox"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(128))
    call_id: Mapped[str | None] = mapped_column(String(36))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboxCommand(Base):
    """A command for ACS, written with the state change that caused it; its id is its idempotency key."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "available_at"),)

    seq: Mapped[Serial]
    id: Mapped[str] = mapped_column(String(36), unique=True)
    call_id: Mapped[OfCall]
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # sent to ACS as Repeatability-First-Sent on every attempt: ACS refuses a retry that changes it
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # set when claimed: the previous attempt never came back (a crash), so ACS may have run it already
    in_doubt: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
