"""What the emulator knows: calls, participants, recordings and their timelines. Pure data, no I/O.

Times are ``time.monotonic()`` seconds when stored and milliseconds since the call's creation when shown.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from recorder.emulator.behaviour import Behaviour
from recorder.emulator.identifiers import identifier_model
from recorder.emulator.scenario import CallScenario, ParticipantScript


@dataclass
class Span:
    """A half-open period in ms since call creation; ``end_ms`` is ``None`` while it lasts."""

    start_ms: float
    end_ms: float | None = None


def overlap_ms(first: list[Span], second: list[Span], now_ms: float) -> float:
    total = 0.0
    for a in first:
        for b in second:
            start = max(a.start_ms, b.start_ms)
            end = min(now_ms if a.end_ms is None else a.end_ms, now_ms if b.end_ms is None else b.end_ms)
            total += max(0.0, end - start)
    return total


def open_span(spans: list[Span], now_ms: float) -> None:
    if not spans or spans[-1].end_ms is not None:
        spans.append(Span(now_ms))


def close_span(spans: list[Span], now_ms: float) -> None:
    if spans and spans[-1].end_ms is None:
        spans[-1].end_ms = now_ms


@dataclass
class RequestRecord:
    at: float
    method: str
    path: str
    operation: str
    status: int = 0
    repeat: bool = False
    target: str | None = None
    server_call_id: str | None = None

    def describe(self, origin: float) -> dict[str, Any]:
        return {
            "at_ms": _ms(self.at - origin),
            "at_s": self.at - origin,
            "method": self.method,
            "path": self.path,
            "operation": self.operation,
            "status": self.status,
            "repeat": self.repeat,
            "target": self.target,
            "server_call_id": self.server_call_id,
        }


@dataclass
class CallbackAttempt:
    at: float
    type: str
    attempt: int
    url: str
    status: int | None
    error: str | None = None
    sent_at: float | None = None

    def describe(self, origin: float) -> dict[str, Any]:
        return {
            "at_ms": _ms(self.at - origin),
            # precise times for latency measurements: when the POST began and when the service answered
            "sent_at_s": None if self.sent_at is None else self.sent_at - origin,
            "answered_at_s": self.at - origin,
            "type": self.type,
            "attempt": self.attempt,
            "url": self.url,
            "status": self.status,
            "error": self.error,
        }


@dataclass
class Participant:
    script: ParticipantScript
    present: bool = False
    left: bool = False
    consented: bool = False
    answers_used: int = 0
    continuous_armed: bool = False
    continuous_context: str | None = None
    on_hold: bool = False
    # Periods in which this participant was present, not exempt and not consenting.
    exposure: list[Span] = field(default_factory=list)

    @property
    def raw_id(self) -> str:
        return self.script.raw_id

    def next_answer(self) -> str | None:
        answers = self.script.answers
        return answers[self.answers_used] if self.answers_used < len(answers) else None

    def set_present(self, present: bool, now_ms: float) -> None:
        self.present = present
        if not present:
            self.left = True
            self.continuous_armed = False
        self._track_exposure(now_ms)

    def answered(self, tones: tuple[str, ...], now_ms: float) -> None:
        """A recognize answer: only a lone "1" counts as consent, anything else revokes it."""
        self.consented = tones == ("one",)
        self._track_exposure(now_ms)

    def withdraw(self, now_ms: float) -> None:
        self.consented = False
        self._track_exposure(now_ms)

    def _track_exposure(self, now_ms: float) -> None:
        if self.present and not self.script.exempt and not self.consented:
            open_span(self.exposure, now_ms)
        else:
            close_span(self.exposure, now_ms)

    def describe(self) -> dict[str, Any]:
        return {
            "raw_id": self.raw_id,
            "present": self.present,
            "consented": self.consented,
            "exempt": self.script.exempt,
            "answers_used": self.answers_used,
            "continuous_dtmf": self.continuous_armed,
            "on_hold": self.on_hold,
        }


@dataclass
class MediaOperation:
    """A play or recognize in the call's media queue; ``started`` once it reached the front and runs."""

    op_id: str
    kind: str  # "play" | "recognize"
    operation_context: str | None
    callback_url: str | None
    sources: tuple[dict[str, Any], ...] = ()
    target: str | None = None  # the recognize target
    play_to: tuple[str, ...] = ()  # play targets; () plays to everyone
    loop: bool = False
    silence_timeout_s: float = 5.0
    max_tones: int = 1
    stop_tones: frozenset[str] = frozenset()
    interrupt_prompt: bool = False
    started: bool = False
    held: tuple[str, ...] = ()  # who this operation put on hold

    def targets(self) -> tuple[str, ...]:
        return (self.target,) if self.target else self.play_to

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "operation_context": self.operation_context,
            "targets": list(self.targets()),
            "started": self.started,
        }


@dataclass
class Recording:
    recording_id: str
    server_call_id: str
    state: str
    callback_url: str | None
    started_at: datetime
    external_container_url: str | None = None  # bring-your-own-storage destination
    # What the start request asked for (or ACS's default): the kinds the recording file reports.
    content_type: str = "audio"
    channel_type: str = "mixed"
    format_type: str = "wav"


@dataclass
class Call:
    scenario: CallScenario
    server_call_id: str
    correlation_id: str
    incoming_call_context: str
    direction: str
    behaviour: Behaviour = field(default_factory=Behaviour)
    app_identity: str = ""  # the application's own ACS identity (answeredBy)
    created_at: float = field(default_factory=time.monotonic)
    state: str = "ringing"
    call_connection_id: str | None = None
    callback_url: str | None = None
    operation_context: str | None = None
    participants: dict[str, Participant] = field(default_factory=dict)
    cognitive_services_endpoint: str | None = None  # given when the call was answered, created or connected
    sequence_number: int = 0
    dtmf_sequence_id: int = 0
    media: list[MediaOperation] = field(default_factory=list)  # the media queue; started ones run
    leg_of: str | None = None  # a call leg to an identity of the resource: the call it belongs to
    leg_target: str | None = None
    legs: list[str] = field(default_factory=list)
    legs_answered_by_application: list[str] = field(default_factory=list)
    recordings: list[Recording] = field(default_factory=list)
    recording_spans: list[Span] = field(default_factory=list)
    requests: list[RequestRecord] = field(default_factory=list)
    callbacks: list[CallbackAttempt] = field(default_factory=list)
    _rng: random.Random | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.participants:
            self.participants = {script.raw_id: Participant(script) for script in self.scenario.participants}

    def ms(self, now: float) -> float:
        return (now - self.created_at) * 1000

    def present(self) -> list[Participant]:
        return [participant for participant in self.participants.values() if participant.present]

    def self_identities(self) -> list[str]:
        """The call's own identities that ACS lists among its participants (knob ``self_listed``)."""
        listed = self.behaviour.self_listed
        if listed == "none" or self.call_connection_id is None:
            return []
        if self.direction != "inbound":
            return [self.app_identity]
        own = [self.scenario.callee]
        if listed == "callee_and_app" and self.app_identity != self.scenario.callee:
            own.append(self.app_identity)
        return [raw_id for raw_id in own if raw_id not in self.participants]

    def participant_models(self) -> list[dict[str, Any]]:
        """The roster as ACS reports it: the call's own identities, then everyone present."""
        own = [participant_model(raw_id) for raw_id in self.self_identities()]
        return own + [participant_model(p.raw_id, on_hold=p.on_hold) for p in self.present()]

    def next_sequence_number(self) -> int:
        """The next ``sequenceNumber``; with ``sequence_gaps`` it skips some, as ACS's do (1, 3, 4, 6...)."""
        step = 1 + (self.rng.choice((0, 0, 1, 2)) if self.behaviour.sequence_gaps else 0)
        self.sequence_number += step
        return self.sequence_number

    @property
    def rng(self) -> random.Random:
        """Per-call randomness, seeded by the call id so a run can be replayed."""
        if self._rng is None:
            self._rng = random.Random(self.server_call_id)
        return self._rng

    def active_recording(self) -> Recording | None:
        """The recording that is not stopped yet, if any (the emulator allows one at a time per call)."""
        for recording in self.recordings:
            if recording.state != "stopped":
                return recording
        return None

    def unconsented_recorded_ms(self, now: float) -> dict[str, int]:
        now_ms = self.ms(now)
        return {
            raw_id: round(overlap_ms(participant.exposure, self.recording_spans, now_ms))
            for raw_id, participant in self.participants.items()
        }

    def describe(self, now: float) -> dict[str, Any]:
        latest = self.recordings[-1] if self.recordings else None
        return {
            "server_call_id": self.server_call_id,
            "call_connection_id": self.call_connection_id,
            "correlation_id": self.correlation_id,
            "direction": self.direction,
            "from": self.scenario.caller,
            "to": self.scenario.callee,
            "state": self.state,
            "app_identity": self.app_identity,
            "self_identities": self.self_identities(),
            "sequence_number": self.sequence_number,
            "media_queue": [operation.describe() for operation in self.media],
            "leg_of": self.leg_of,
            "legs": self.legs,
            "legs_answered_by_application": self.legs_answered_by_application,
            "participants": [participant.describe() for participant in self.participants.values()],
            "recording": {"recording_id": latest.recording_id, "state": latest.state} if latest else None,
            "requests": [record.describe(self.created_at) for record in self.requests],
            "callbacks": [attempt.describe(self.created_at) for attempt in self.callbacks],
            "recording_intervals": [
                {"start_ms": _ms_value(span.start_ms), "end_ms": _ms_value(span.end_ms)}
                for span in self.recording_spans
            ],
            "unconsented_recorded_ms": self.unconsented_recorded_ms(now),
        }


def participant_model(raw_id: str, *, on_hold: bool = False) -> dict[str, Any]:
    return {"identifier": identifier_model(raw_id), "isMuted": False, "isOnHold": on_hold}


@dataclass
class CachedReply:
    status: int
    body: Any
    server_call_id: str | None
    at: float = field(default_factory=time.monotonic)
    fingerprint: str = ""  # the request body's hash: a repeat with another body is refused
    first_sent: datetime | None = None


@dataclass
class EmulatorState:
    calls: dict[str, Call] = field(default_factory=dict)
    by_connection: dict[str, str] = field(default_factory=dict)
    by_context: dict[str, str] = field(default_factory=dict)
    recordings: dict[str, Recording] = field(default_factory=dict)
    outbound_scripts: dict[str, ParticipantScript] = field(default_factory=dict)
    resource_numbers: set[str] = field(default_factory=set)  # the ``to`` of every scripted call
    requests: list[RequestRecord] = field(default_factory=list)
    started_at: float = field(default_factory=time.monotonic)

    def add_call(self, call: Call) -> None:
        self.calls[call.server_call_id] = call
        self.by_context[call.incoming_call_context] = call.server_call_id

    def describe_requests(self) -> list[dict[str, Any]]:
        return [record.describe(self.started_at) for record in self.requests]


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _ms_value(value: float | None) -> int | None:
    return None if value is None else round(value)
