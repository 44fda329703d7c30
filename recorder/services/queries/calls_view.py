"""The console's list of calls: newest first, numbered pages with a total, filtered by time, participant
(part of a number or id), outcome, recorded or not, storage region, legal hold and unconsented exposure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, false, func, or_, select
from sqlalchemy.orm import Session

from recorder.db.tables.calls import Call, CallParticipant, ConsentEntry, RecordingSegment
from recorder.db.tables.compliance import LegalHold
from recorder.db.tables.recording_requests import RecordingRequest
from recorder.db.tables.storage import StoredRecording
from recorder.services.queries import story
from recorder.services.queries.numbers import ParticipantQuery

PER_PAGE = 25
EXPOSURE_BATCH = 500


@dataclass(frozen=True)
class CallsFilter:
    since: datetime | None = None
    until: datetime | None = None
    participant: ParticipantQuery | None = None
    outcome: str | None = None
    recorded: bool | None = None
    region: str | None = None
    legal_hold: bool | None = None
    exposed: bool = False


def _like(fragment: str) -> str:
    escaped = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _recorded() -> ColumnElement[bool]:
    return exists().where(RecordingSegment.call_id == Call.id, RecordingSegment.kind == "started")


def _on_hold() -> ColumnElement[bool]:
    return exists().where(LegalHold.call_id == Call.id, LegalHold.released_at.is_(None))


def _named(query: ParticipantQuery) -> ColumnElement[bool]:
    raw_id = CallParticipant.raw_id
    options = [raw_id == query.exact] if query.exact else []
    if query.fragment:
        options.append(raw_id.like(_like(query.fragment), escape="\\"))
    return or_(*options) if options else false()


def conditions(f: CallsFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if f.since is not None:
        found.append(Call.created_at >= f.since)
    if f.until is not None:
        found.append(Call.created_at < f.until)
    if f.participant is not None:
        found.append(exists().where(CallParticipant.call_id == Call.id, _named(f.participant)))
    if f.outcome is not None:
        found.append(exists().where(ConsentEntry.call_id == Call.id, ConsentEntry.outcome == f.outcome))
    if f.recorded is not None or f.exposed:
        found.append(_recorded() if f.recorded is not False else ~_recorded())
    if f.region is not None:
        stored = exists().where(StoredRecording.call_id == Call.id, StoredRecording.region == f.region)
        asked = exists().where(RecordingRequest.call_id == Call.id, RecordingRequest.region == f.region)
        found.append(or_(stored, asked))
    if f.legal_hold is not None:
        found.append(_on_hold() if f.legal_hold else ~_on_hold())
    return found


def list_calls(session: Session, f: CallsFilter, page: int, per_page: int = PER_PAGE) -> dict[str, Any]:
    """One page of calls and how many match. Exposure is computed, not stored: with ``exposed`` every
    matching recorded call is measured, in batches, before the page is cut."""
    query = select(Call.id).where(*conditions(f)).order_by(Call.created_at.desc(), Call.id.desc())
    if f.exposed:
        ids = _exposed_ids(session, list(session.scalars(query)))
        total, page_ids = len(ids), ids[(page - 1) * per_page : page * per_page]
    else:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        page_ids = list(session.scalars(query.offset((page - 1) * per_page).limit(per_page)))
    return {
        "items": _items(session, page_ids),
        "total": total,
        "page": page,
        "pages": max(1, -(-total // per_page)),
    }


def _exposed_ids(session: Session, ids: list[str]) -> list[str]:
    kept: list[str] = []
    for start in range(0, len(ids), EXPOSURE_BATCH):
        batch = ids[start : start + EXPOSURE_BATCH]
        found = story.exposures(session, batch)
        kept.extend(i for i in batch if (e := found.get(i)) is not None and e.total_ms > 0)
    return kept


def _items(session: Session, ids: list[str]) -> list[dict[str, Any]]:
    if not ids:
        return []
    calls = {c.id: c for c in session.scalars(select(Call).where(Call.id.in_(ids)))}
    people = _grouped(session, CallParticipant.call_id, CallParticipant.raw_id, ids, CallParticipant.consent)
    outcomes = _grouped(session, ConsentEntry.call_id, ConsentEntry.outcome, ids)
    regions = _grouped(session, StoredRecording.call_id, StoredRecording.region, ids)
    recorded = set(session.scalars(select(Call.id).where(Call.id.in_(ids), _recorded())))
    held = set(session.scalars(select(Call.id).where(Call.id.in_(ids), _on_hold())))
    found = story.exposures(session, ids)
    return [
        {
            "call_connection_id": calls[i].call_connection_id,
            "server_call_id": calls[i].server_call_id,
            "direction": calls[i].direction,
            "created_at": calls[i].created_at,
            "ended_at": calls[i].ended_at,
            "participants": people.get(i, []),
            "outcomes": sorted(set(outcomes.get(i, []))),
            "recorded": i in recorded,
            "regions": sorted(set(regions.get(i, []))),
            "legal_hold": i in held,
            "exposure_ms": None if (e := found.get(i)) is None else round(e.total_ms),
        }
        for i in ids
    ]


def _grouped(
    session: Session, key: Any, value: Any, ids: list[str], unless: Any = None
) -> dict[str, list[Any]]:
    query = select(key, value).where(key.in_(ids))
    if unless is not None:
        query = query.where(unless != "service")  # the call's own identities are not participants
    grouped: dict[str, list[Any]] = {}
    for call_id, item in session.execute(query):
        grouped.setdefault(call_id, []).append(item)
    return grouped
