"""What a decision asks for: commands to ACS (run by the outbox) and records to keep (same transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from recorder.domain.model import Prompt

# --- commands: executed against ACS by the outbox dispatcher, in order per call ---


@dataclass(frozen=True)
class AnswerCall:
    incoming_call_context: str


@dataclass(frozen=True)
class ConnectCall:
    """Join an ongoing call the service does not own yet (``connect_call`` with a server call locator)."""

    server_call_id: str


@dataclass(frozen=True)
class CreateCall:
    """Place an outbound call to ``target`` (an ACS raw id) from ``source_caller_id`` (E.164, optional)."""

    target: str
    source_caller_id: str | None = None


@dataclass(frozen=True)
class PromptParticipant:
    raw_id: str
    attempt: int
    prompt: Prompt
    silence_timeout_seconds: int

    @property
    def operation_context(self) -> str:
        return consent_context(self.raw_id, self.attempt)


@dataclass(frozen=True)
class WatchForWithdrawal:
    raw_id: str

    @property
    def operation_context(self) -> str:
        return f"withdraw|{self.raw_id}"


@dataclass(frozen=True)
class StartRecording:
    pass


@dataclass(frozen=True)
class PauseRecording:
    pass


@dataclass(frozen=True)
class ResumeRecording:
    pass


@dataclass(frozen=True)
class StopRecording:
    pass


@dataclass(frozen=True)
class HangUp:
    reason: str


@dataclass(frozen=True)
class ReadCallState:
    """Ask ACS for the call's participants and recording state, and feed the answer back (``StateRead``)."""


Command = (
    AnswerCall
    | ConnectCall
    | CreateCall
    | PromptParticipant
    | WatchForWithdrawal
    | StartRecording
    | PauseRecording
    | ResumeRecording
    | StopRecording
    | HangUp
    | ReadCallState
)

# --- records: rows written beside the new state ---


@dataclass(frozen=True)
class ConsentRecorded:
    participant: str
    outcome: str
    method: str
    decided_at: datetime
    prompt: Prompt | None = None
    prompted_at: datetime | None = None
    dtmf: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class SegmentRecorded:
    kind: str  # started | paused | resumed | stopped
    recording_id: str
    at: datetime


@dataclass(frozen=True)
class CallEnded:
    """The call is over for the service: disconnected, or never connected (``failed``, with the reason)."""

    at: datetime
    reason: str
    failed: bool = False


@dataclass(frozen=True)
class Incident:
    """Something went wrong on ACS's side and what the gate did about it; kept in the call's audit entry."""

    kind: str  # e.g. pause_failed, recording_reported_active, participants_unclear, answer_overdue
    detail: str
    at: datetime


Record = ConsentRecorded | SegmentRecorded | CallEnded | Incident


def consent_context(raw_id: str, attempt: int) -> str:
    return f"consent|{attempt}|{raw_id}"


def parse_context(context: str) -> tuple[str, int | None, str] | None:
    """Split an operationContext we issued into (purpose, attempt, raw_id); None if it is not ours."""
    purpose, _, rest = context.partition("|")
    if purpose == "consent":
        attempt, _, raw_id = rest.partition("|")
        if attempt.isascii() and attempt.isdigit() and raw_id:
            return purpose, int(attempt), raw_id
    elif purpose == "withdraw" and rest:
        return purpose, None, rest
    return None
