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
    SERVICE = "service"  # one of the call's own identities: never asked, never in the ledger


ALLOWS_RECORDING = frozenset({Consent.GRANTED, Consent.EXEMPT, Consent.SERVICE})


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
    # the service's own numbers and ACS identities (configured): never prompted, never in the ledger
    own_identities: frozenset[str] = frozenset()
    # how long past its silence timeout an unanswered prompt is given before it is taken as lost
    answer_margin_seconds: int = 20

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
    """What the service commanded and what ACS reported, side by side; every decision uses both."""

    call_id: str
    server_call_id: str
    call_connection_id: str | None = None
    phase: CallPhase = CallPhase.ANSWERING
    locale: str = ""
    participants: tuple[Participant, ...] = ()
    participants_sequence: int = 0
    # ACS's time of the newest participant list applied (a callback's event time, or when we read the list)
    participants_at: datetime | None = None
    # a participant update we could not read or order arrived: held paused until a read settles it
    participants_unclear: bool = False
    # the call's own identities as ACS told us (callee, answeredBy, source); configured ones are in the policy
    own_identities: frozenset[str] = frozenset()
    identities_known: bool = False  # the answer/connect/create response (or a read) has been applied
    recording: RecordingStatus = RecordingStatus.NONE  # what we commanded
    recording_id: str | None = None
    # What ACS last reported ("", "active", "inactive") and its event time: reports apply by that time.
    recording_reported: str = ""
    recording_reported_at: datetime | None = None
    recording_first_at: datetime | None = None  # the earliest report's time: tells a start from a resume
    recording_pending: int = 0  # recording commands sent to the outbox and not yet answered by ACS
    recording_report_fresh: bool = False  # a report arrived after our last recording command was issued
    # when ACS last accepted a recording command: a read asked before then may predate what it did
    recording_answered_at: datetime | None = None
    # when the head of the call's media queue got its turn, as far as we know (prompts run one at a time)
    media_turn_at: datetime | None = None

    def participant(self, raw_id: str) -> Participant | None:
        return next((p for p in self.participants if p.raw_id == raw_id), None)

    @property
    def present(self) -> tuple[Participant, ...]:
        return tuple(p for p in self.participants if p.present)

    @property
    def people_present(self) -> tuple[Participant, ...]:
        """Everyone present who is not the service itself."""
        return tuple(p for p in self.participants if p.present and p.consent is not Consent.SERVICE)

    @property
    def consent_complete(self) -> bool:
        present = self.people_present
        return bool(present) and all(p.consent in ALLOWS_RECORDING for p in present)

    @property
    def may_be_recording(self) -> bool:
        """ACS may be recording: we commanded it on, a recording command is in flight, or ACS said so."""
        return (
            self.recording is RecordingStatus.ACTIVE
            or self.recording_pending > 0
            or self.recording_reported == "active"
        )
