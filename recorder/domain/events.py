"""Typed inbound events the consent state machine reacts to.

Web adapters turn ACS callbacks into these; the outbox dispatcher feeds back the results of the commands it
executed (``CallAnswered``, ``RecordingStarted``, ``CommandDone``, ``CommandFailed``, ``StateRead``); the
reconciliation loop feeds what it read from ACS (``StateRead``) and the prompts it found unanswered
(``AnswerOverdue``). ``at`` is when the service saw the event; ``reported_at`` is ACS's own event time.
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
    """A snapshot. ``sequence_number`` None (optional in ACS's schema) or ``unreadable`` identifiers: the
    snapshot cannot be trusted or ordered, and the call fails safe until ACS's list is read."""

    at: datetime
    sequence_number: int | None
    participants: tuple[str, ...]
    reported_at: datetime | None = None
    unreadable: int = 0


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
class RecognizeCanceled:
    at: datetime
    operation_context: str


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
    reported_at: datetime | None = None  # None: the time it arrived


@dataclass(frozen=True)
class StartRecordingFailed:
    """ACS could not start (or keep) the recording it had accepted."""

    at: datetime
    recording_id: str


@dataclass(frozen=True)
class CallDisconnected:
    at: datetime


@dataclass(frozen=True)
class CallAnswered:
    """ACS answered (or connected) the call for us; ``own_identities``: who the service is in it."""

    at: datetime
    call_connection_id: str
    own_identities: tuple[str, ...] = ()


@dataclass(frozen=True)
class CallPlaced:
    """An outbound call was created: ACS gave it a connection id and a server call id."""

    at: datetime
    call_connection_id: str
    server_call_id: str
    own_identities: tuple[str, ...] = ()


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
class CommandDone:
    """ACS accepted a command that returns nothing (pause, resume, stop, prompt...)."""

    at: datetime
    command: str


@dataclass(frozen=True)
class CommandFailed:
    """A command failed for good. ``target``/``attempt``: whom a prompt or a watch was for."""

    at: datetime
    command: str
    reason: str
    target: str = ""
    attempt: int = 0


@dataclass(frozen=True)
class StateRead:
    """What ACS said when asked (``get_call_properties`` / ``list_participants`` /
    ``get_recording_properties``), taken at ``at``. None: that part was not read."""

    at: datetime
    connected: bool | None = None  # False: ACS no longer knows the call
    participants: tuple[str, ...] | None = None
    own_identities: tuple[str, ...] = ()
    recording_id: str | None = None
    recording: str | None = None  # "active", "inactive", or "gone" (ACS no longer knows the recording)


@dataclass(frozen=True)
class PromptWithheld:
    """The outbox did not send a prompt: by the time its turn came, ACS may have been recording again."""

    at: datetime
    raw_id: str
    attempt: int


@dataclass(frozen=True)
class AnswerOverdue:
    """A prompt's answer has not come within its silence timeout and margin: ACS lost it, or we did."""

    at: datetime
    raw_id: str
    attempt: int


CallEvent = (
    CallConnected
    | ParticipantsUpdated
    | RecognizeCompleted
    | RecognizeFailed
    | RecognizeCanceled
    | ContinuousToneReceived
    | RecordingStateChanged
    | StartRecordingFailed
    | CallDisconnected
    | CallAnswered
    | CallPlaced
    | StopRequested
    | RecordingStarted
    | CommandDone
    | CommandFailed
    | StateRead
    | PromptWithheld
    | AnswerOverdue
)
