"""The consent domain's state: plain frozen dataclasses, no I/O."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Consent(StrEnum):
    PENDING = "pending"
    PROMPTED = "prompted"
    GRANTED = "granted"
    DECLINED = "declined"
    NO_RESPONSE = "no_response"
    WITHDRAWN = "withdrawn"
    EXEMPT = "exempt"


ALLOWS_RECORDING = frozenset({Consent.GRANTED, Consent.EXEMPT})


class CallPhase(StrEnum):
    ANSWERING = "answering"
    CONNECTED = "connected"
    ENDED = "ended"


class RecordingStatus(StrEnum):
    NONE = "none"
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"
    FAILED = "failed"


class RefusalAction(StrEnum):
    LEAVE_UNRECORDED = "leave_unrecorded"
    HANG_UP = "hang_up"


@dataclass(frozen=True)
class Prompt:
    id: str
    version: str
    locale: str
    text: str | None = None
    audio_url: str | None = None

    @property
    def sha256(self) -> str:
        content = self.audio_url if self.audio_url is not None else (self.text or "")
        return hashlib.sha256(content.encode()).hexdigest()


@dataclass(frozen=True)
class ConsentPolicy:
    prompts: Mapping[str, Prompt]
    default_locale: str
    grant_tone: str = "one"
    decline_tone: str = "two"
    withdraw_tone: str = "nine"
    reprompts: int = 2
    silence_timeout_seconds: int = 10
    on_refusal: RefusalAction = RefusalAction.LEAVE_UNRECORDED
    exempt: Mapping[str, str] = field(default_factory=dict)

    def prompt_for(self, locale: str) -> Prompt:
        return self.prompts.get(locale) or self.prompts[self.default_locale]

    def exemption(self, raw_id: str) -> str | None:
        return self.exempt.get(raw_id)


@dataclass(frozen=True)
class Participant:
    raw_id: str
    present: bool = True
    consent: Consent = Consent.PENDING
    attempts: int = 0  # prompts in the current round; a rejoin starts a new round
    prompts_sent: int = 0  # never reset: numbers each prompt's operationContext uniquely
    prompted_at: datetime | None = None
    prompt: Prompt | None = None
    exempt_reason: str | None = None


@dataclass(frozen=True)
class CallState:
    call_id: str
    server_call_id: str
    call_connection_id: str | None = None
    phase: CallPhase = CallPhase.ANSWERING
    locale: str = ""
    participants: tuple[Participant, ...] = ()
    participants_sequence: int = 0
    recording: RecordingStatus = RecordingStatus.NONE
    recording_id: str | None = None
    # What ACS last reported ("", "active", "inactive"): tells a start from a resume, and drops repeats.
    recording_reported: str = ""

    def participant(self, raw_id: str) -> Participant | None:
        return next((p for p in self.participants if p.raw_id == raw_id), None)

    @property
    def present(self) -> tuple[Participant, ...]:
        return tuple(p for p in self.participants if p.present)

    @property
    def consent_complete(self) -> bool:
        present = self.present
        return bool(present) and all(p.consent in ALLOWS_RECORDING for p in present)
