"""What the emulator knows: calls, participants, recordings and their timelines. Pure data, no I/O.

Times are ``time.monotonic()`` seconds when stored and milliseconds since the call's creation when shown.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
        }


@dataclass
class PendingOperation:
    """A play or recognize whose outcome callback is still to come."""

    op_id: str
    kind: str
    operation_context: str | None
    callback_url: str | None
    target: str | None = None


@dataclass
class Recording:
    recording_id: str
    server_call_id: str
    state: str
    callback_url: str | None
    started_at: datetime
    external_container_url: str | None = None  # bring-your-own-storage destination


@dataclass
class Call:
    scenario: CallScenario
    server_call_id: str
    correlation_id: str
    incoming_call_context: str
    direction: str
    created_at: float = field(default_factory=time.monotonic)
    state: str = "ringing"
    call_connection_id: str | None = None
    callback_url: str | None = None
    operation_context: str | None = None
    participants: dict[str, Participant] = field(default_factory=dict)
    sequence_number: int = 0
    dtmf_sequence_id: int = 0
    pending: dict[str, PendingOperation] = field(default_factory=dict)
    recordings: list[Recording] = field(default_factory=list)
    recording_spans: list[Span] = field(default_factory=list)
    requests: list[RequestRecord] = field(default_factory=list)
    callbacks: list[CallbackAttempt] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.participants:
            self.participants = {script.raw_id: Participant(script) for script in self.scenario.participants}

    def ms(self, now: float) -> float:
        return (now - self.created_at) * 1000

    def present(self) -> list[Participant]:
        return [participant for participant in self.participants.values() if participant.present]

    def participant_models(self) -> list[dict[str, Any]]:
        return [
            {"identifier": identifier_model(p.raw_id), "isMuted": False, "isOnHold": False}
            for p in self.present()
        ]

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


@dataclass
class CachedReply:
    status: int
    body: Any
    server_call_id: str | None


@dataclass
class EmulatorState:
    calls: dict[str, Call] = field(default_factory=dict)
    by_connection: dict[str, str] = field(default_factory=dict)
    by_context: dict[str, str] = field(default_factory=dict)
    recordings: dict[str, Recording] = field(default_factory=dict)
    outbound_scripts: dict[str, ParticipantScript] = field(default_factory=dict)
    requests: list[RequestRecord] = field(default_factory=list)
    # Replies to requests that carried a Repeatability-Request-ID, keyed by (method, path, id).
    repeatable: dict[tuple[str, str, str], CachedReply] = field(default_factory=dict)
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
