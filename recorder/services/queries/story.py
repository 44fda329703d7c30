"""A call as one chronological story, from what ACS reported: presence, prompts and answers, recording state,
unconsented exposure. Read by the console's call page, its evidence page and the API's exposure figures."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from recorder.db.tables.calls import Call, CallParticipant, ConsentEntry, RecordingSegment
from recorder.db.tables.presence import ParticipantPresence
from recorder.services.queries import exposure as ex

NOT_PEOPLE = frozenset({"service"})  # the call's own identities: never asked, never exposed


@dataclass
class CallFacts:
    """What the database holds of one call's timing, by participant raw id."""

    start: datetime
    end: datetime
    live: bool
    consent: dict[str, str] = field(default_factory=dict)  # raw id -> current consent state
    presence: dict[str, list[tuple[datetime, bool]]] = field(default_factory=lambda: defaultdict(list))
    decisions: dict[str, list[tuple[datetime, str]]] = field(default_factory=lambda: defaultdict(list))
    segments: list[tuple[datetime, str]] = field(default_factory=list)

    @property
    def people(self) -> list[str]:
        return [raw_id for raw_id, consent in self.consent.items() if consent not in NOT_PEOPLE]

    @property
    def measured(self) -> bool:
        """Presence is known (calls from before migration 0014 have none)."""
        return any(self.presence.values())

    def exposure(self) -> ex.Exposure | None:
        if not self.measured:
            return None
        people = {raw_id: self.presence.get(raw_id, []) for raw_id in self.people}
        return ex.compute(people, self.decisions, self.segments, self.end)


def call_facts(
    session: Session, call_ids: Iterable[str], now: datetime | None = None
) -> dict[str, CallFacts]:
    """Facts for each call id that exists, in a fixed number of queries whatever the number of calls."""
    ids = list(dict.fromkeys(call_ids))
    if not ids:
        return {}
    now = now or datetime.now(UTC)
    facts = {
        call.id: CallFacts(call.created_at, call.ended_at or now, call.ended_at is None)
        for call in session.scalars(select(Call).where(Call.id.in_(ids)))
    }
    people = session.execute(
        select(CallParticipant.id, CallParticipant.call_id, CallParticipant.raw_id, CallParticipant.consent)
        .where(CallParticipant.call_id.in_(ids))
        .order_by(CallParticipant.id)
    ).all()
    raw_of = {}
    for row_id, call_id, raw_id, consent in people:
        facts[call_id].consent[raw_id] = consent
        raw_of[row_id] = (call_id, raw_id)
    if raw_of:
        presence = session.execute(
            select(ParticipantPresence.participant_id, ParticipantPresence.at, ParticipantPresence.present)
            .where(ParticipantPresence.participant_id.in_(list(raw_of)))
            .order_by(ParticipantPresence.id)
        )
        for participant_id, at, present in presence:
            call_id, raw_id = raw_of[participant_id]
            facts[call_id].presence[raw_id].append((at, present))
    ledger = session.execute(
        select(ConsentEntry.call_id, ConsentEntry.participant, ConsentEntry.decided_at, ConsentEntry.outcome)
        .where(ConsentEntry.call_id.in_(ids))
        .order_by(ConsentEntry.id)
    )
    for call_id, participant, decided_at, outcome in ledger:
        facts[call_id].decisions[participant].append((decided_at, outcome))
    segments = session.execute(
        select(RecordingSegment.call_id, RecordingSegment.at, RecordingSegment.kind)
        .where(RecordingSegment.call_id.in_(ids))
        .order_by(RecordingSegment.at, RecordingSegment.id)
    )
    for call_id, at, kind in segments:
        facts[call_id].segments.append((at, kind))
    return facts


def exposures(session: Session, call_ids: Iterable[str]) -> dict[str, ex.Exposure | None]:
    """Each call's exposure; None for a call whose presence was never recorded (before migration 0014)."""
    return {call_id: found.exposure() for call_id, found in call_facts(session, call_ids).items()}


def exposure_json(found: ex.Exposure | None) -> dict[str, Any] | None:
    return None if found is None else found.as_json()


@dataclass(frozen=True)
class Lane:
    """One row of the timeline: a participant (presence, prompts, answers) or ACS's recording state."""

    label: str
    kind: str  # "participant" | "recording"
    on: list[ex.Span]
    marks: list[tuple[datetime, str, str]] = field(default_factory=list)  # (at, kind, label)
    consent: str = ""
    exposure_ms: float = 0.0


@dataclass(frozen=True)
class Story:
    start: datetime
    end: datetime
    live: bool
    lanes: list[Lane]
    exposure: ex.Exposure | None
    events: list[dict[str, Any]]


def story(session: Session, call_id: str, ledger: list[dict[str, Any]]) -> Story | None:
    """The call's lanes and its events in time order; ``ledger`` is the call's ledger items."""
    facts = call_facts(session, [call_id]).get(call_id)
    if facts is None:
        return None
    found = facts.exposure()
    lanes = [_person_lane(facts, raw_id, ledger, found) for raw_id in facts.people]
    recording = ex.recording_spans(facts.segments, facts.end)
    lanes.append(Lane("ACS recording", "recording", recording))
    events = _events(facts, ledger)
    for raw_id, spans in (found.participants if found else {}).items():
        events.extend(
            {"at": s.start, "who": raw_id, "what": "exposed", "ms": s.ms, "end": s.end} for s in spans
        )
    events.sort(key=lambda e: e["at"])
    start = min([facts.start, *(at for at, _ in facts.segments), *(e["at"] for e in events)])
    return Story(start, facts.end, facts.live, lanes, found, events)


def _person_lane(
    facts: CallFacts, raw_id: str, ledger: list[dict[str, Any]], found: ex.Exposure | None
) -> Lane:
    marks: list[tuple[datetime, str, str]] = []
    for item in ledger:
        if item["participant"] != raw_id:
            continue
        if item["prompted_at"]:
            marks.append((datetime.fromisoformat(item["prompted_at"]), "prompt", item["prompt_id"] or ""))
        marks.append((datetime.fromisoformat(item["decided_at"]), "answer", item["outcome"]))
    present = ex.spans(facts.presence.get(raw_id, []), facts.end)
    exposure_ms = found.ms_of(raw_id) if found else 0.0
    return Lane(raw_id, "participant", present, marks, facts.consent[raw_id], exposure_ms)


def _events(facts: CallFacts, ledger: list[dict[str, Any]]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for raw_id in facts.people:
        for at, present in facts.presence.get(raw_id, []):
            events.append({"at": at, "who": raw_id, "what": "joined" if present else "left"})
    for item in ledger:
        if item["prompted_at"]:
            at = datetime.fromisoformat(item["prompted_at"])
            events.append({"at": at, "who": item["participant"], "what": "prompted", "item": item})
        at = datetime.fromisoformat(item["decided_at"])
        events.append({"at": at, "who": item["participant"], "what": item["outcome"], "item": item})
    events.extend({"at": at, "who": "ACS", "what": f"recording {kind}"} for at, kind in facts.segments)
    return sorted(events, key=lambda e: e["at"])
