"""Typed inbound events the consent state machine reacts to.

Web adapters turn ACS callbacks into these; the outbox dispatcher feeds back the results of the
commands it executed (``CallAnswered``, ``RecordingStarted``, ``CommandFailed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class CallConnected:
    at: datetime
    call_connection_id: str


@dataclass(frozen=True)
class ParticipantsUpdated:
    at: datetime
    sequence_number: int
    participants: tuple[str, ...]


@dataclass(frozen=True)
class RecognizeCompleted:
    at: datetime
    operation_context: str
    tones: tuple[str, ...]


@dataclass(frozen=True)
class RecognizeFailed:
    at: datetime
    operation_context: str
    sub_code: int
    message: str = ""


@dataclass(frozen=True)
class ContinuousToneReceived:
    at: datetime
    operation_context: str
    tone: str


@dataclass(frozen=True)
class RecordingStateChanged:
    at: datetime
    recording_id: str
    active: bool


@dataclass(frozen=True)
class CallDisconnected:
    at: datetime


@dataclass(frozen=True)
class CallAnswered:
    at: datetime
    call_connection_id: str


@dataclass(frozen=True)
class CallPlaced:
    """An outbound call was created: ACS gave it a connection id and a server call id."""

    at: datetime
    call_connection_id: str
    server_call_id: str


@dataclass(frozen=True)
class StopRequested:
    """Someone with the right asked to stop recording this call (``DELETE /api/recordings/{id}``)."""

    at: datetime
    requested_by: str


@dataclass(frozen=True)
class RecordingStarted:
    at: datetime
    recording_id: str


@dataclass(frozen=True)
class CommandFailed:
    at: datetime
    command: str
    reason: str


CallEvent = (
    CallConnected
    | ParticipantsUpdated
    | RecognizeCompleted
    | RecognizeFailed
    | ContinuousToneReceived
    | RecordingStateChanged
    | CallDisconnected
    | CallAnswered
    | CallPlaced
    | StopRequested
    | RecordingStarted
    | CommandFailed
)
