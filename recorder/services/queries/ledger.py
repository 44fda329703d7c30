"""Read models for the compliance API: the consent ledger, a call's timeline, the audit chain."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from recorder.db.repositories.audit import AuditRepository
from recorder.db.tables.audit import AuditEntry
from recorder.db.tables.calls import Call, CallParticipant, ConsentEntry, RecordingSegment
from recorder.domain import audit_chain
from recorder.services.errors import Invalid
from recorder.services.queries import story
from recorder.services.queries.exposure import Exposure
from recorder.services.queries.recordings import stored_recordings

LEDGER_FIELDS = (
    "id",
    "call_connection_id",
    "server_call_id",
    "participant",
    "outcome",
    "method",
    "reason",
    "dtmf",
    "prompt_id",
    "prompt_version",
    "locale",
    "prompt_sha256",
    "prompted_at",
    "decided_at",
)


class BadQuery(Invalid):
    """A query parameter out of range or not understood: 400 ``invalid_query``."""

    def __init__(self, message: str) -> None:
        super().__init__("invalid_query", message)


EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)  # what every backend stores and compares without overflowing
MAX_ROW_ID = 2**63 - 1
_ROW_ID = re.compile(r"[0-9]{1,19}")


def in_stored_range(moment: datetime, name: str) -> datetime:
    """``moment`` (aware) in UTC, or ``BadQuery`` when it lies outside 1900..9999 once in UTC."""
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        raise BadQuery(f"{name} is out of range") from None
    if utc < EARLIEST:
        raise BadQuery(f"{name} is out of range (before {EARLIEST.year})")
    return utc


def cursor_text(cursor: str) -> str:
    """The text inside a cursor this service issued (URL-safe base64 of ASCII), or ``BadQuery``."""
    try:
        if len(cursor) > 512:
            raise ValueError("too long")
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, binascii.Error):
        raise BadQuery("cursor is not one this service issued") from None


@dataclass(frozen=True)
class LedgerFilter:
    call_connection_id: str | None = None
    server_call_id: str | None = None
    participant: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    version, _, last = cursor_text(cursor).partition(":")
    if version != "v1" or not _ROW_ID.fullmatch(last) or int(last) > MAX_ROW_ID:
        raise BadQuery("cursor is not one this service issued")
    return int(last)


def ledger_conditions(f: LedgerFilter) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a ledger filter, shared by the paged API and the streaming export."""
    conditions = [
        column == value
        for column, value in (
            (ConsentEntry.call_connection_id, f.call_connection_id),
            (ConsentEntry.server_call_id, f.server_call_id),
            (ConsentEntry.participant, f.participant),
            (ConsentEntry.outcome, f.outcome),
        )
        if value is not None
    ]
    if f.since is not None:
        conditions.append(ConsentEntry.decided_at >= f.since)
    if f.until is not None:
        conditions.append(ConsentEntry.decided_at < f.until)
    return conditions


def consents(session: Session, f: LedgerFilter, cursor: str | None, limit: int) -> dict[str, Any]:
    query = select(ConsentEntry).where(*ledger_conditions(f)).order_by(ConsentEntry.id).limit(limit + 1)
    if cursor:
        query = query.where(ConsentEntry.id > decode_cursor(cursor))
    rows = list(session.scalars(query))
    page = rows[:limit]
    found = story.exposures(session, {r.call_id for r in page})
    return {
        "items": [{**ledger_item(r), "exposure_ms": _exposure_ms(found.get(r.call_id), r)} for r in page],
        "next": encode_cursor(page[-1].id) if len(rows) > limit else None,
    }


def _exposure_ms(found: Exposure | None, row: ConsentEntry) -> int | None:
    """This participant's unconsented exposure in this call; None when the call predates its measurement."""
    return None if found is None else round(found.ms_of(row.participant))


def ledger_item(row: ConsentEntry) -> dict[str, Any]:
    item = {name: getattr(row, name) for name in LEDGER_FIELDS}
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in item.items()}


def call_timeline(session: Session, call_connection_id: str) -> dict[str, Any] | None:
    call = session.scalar(select(Call).where(Call.call_connection_id == call_connection_id))
    if call is None:
        return None
    participants = session.scalars(select(CallParticipant).where(CallParticipant.call_id == call.id))
    ledger = session.scalars(
        select(ConsentEntry).where(ConsentEntry.call_id == call.id).order_by(ConsentEntry.id)
    )
    segments = session.scalars(
        # by ACS's event time: reports can arrive out of order, the evidence must not
        select(RecordingSegment)
        .where(RecordingSegment.call_id == call.id)
        .order_by(RecordingSegment.at, RecordingSegment.id)
    )
    audit = session.scalars(select(AuditEntry).where(AuditEntry.call_id == call.id).order_by(AuditEntry.seq))
    return {
        "call_connection_id": call.call_connection_id,
        "server_call_id": call.server_call_id,
        "direction": call.direction,
        "phase": call.phase,
        "recording": call.recording,
        "recording_id": call.recording_id,
        "created_at": call.created_at.isoformat(),
        "ended_at": call.ended_at.isoformat() if call.ended_at else None,
        "participants": [
            {
                "participant": p.raw_id,
                "present": p.present,
                "consent": p.consent,
                "exempt_reason": p.exempt_reason,
            }
            for p in participants
        ],
        "consents": [ledger_item(r) for r in ledger],
        "recording_segments": [
            {"recording_id": s.recording_id, "kind": s.kind, "at": s.at.isoformat()} for s in segments
        ],
        "stored_recordings": stored_recordings(session, call.id),
        "exposure": story.exposure_json(story.exposures(session, [call.id])[call.id]),
        "audit": [
            {
                "seq": a.seq,
                "at": a.at.isoformat(),
                "action": a.action,
                "hash": a.hash,
                "prev_hash": a.prev_hash,
            }
            for a in audit
        ],
    }


def verify_audit(session: Session) -> audit_chain.Verification:
    return audit_chain.verify(AuditRepository(session).entries())
