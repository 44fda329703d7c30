"""Ports the services need from the outside world; adapters implement them, tests fake them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from recorder.domain.model import Prompt
from recorder.domain.published import OutgoingEvent
from recorder.services.errors import PortError


class AcsError(PortError):
    """A Call Automation request failed; ``transient`` says whether trying again may help."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status


@dataclass(frozen=True)
class PlacedCall:
    """A call connection ACS made for us, and who the service is in that call (answeredBy, source...)."""

    call_connection_id: str
    server_call_id: str = ""
    own_identities: tuple[str, ...] = ()


@dataclass(frozen=True)
class CallRead:
    """ACS's truth about a call, read now. None: not read (or, for participants, not readable)."""

    connected: bool | None = None  # False: ACS no longer knows the call connection
    participants: tuple[str, ...] | None = None
    own_identities: tuple[str, ...] = ()
    recording: str | None = None  # "active", "inactive" or "gone"


class CallAutomation(Protocol):
    # ``request_id``/``first_sent``: Repeatability-Request-ID and -First-Sent, the same on every attempt of a
    # command, so ACS runs a retried answer, connect, create, start recording or terminate only once.

    def answer_call(
        self,
        incoming_call_context: str,
        callback_url: str,
        request_id: str,
        *,
        first_sent: datetime | None = None,
    ) -> PlacedCall:
        """Answer; returns the call connection."""
        ...

    def connect_call(
        self, server_call_id: str, callback_url: str, request_id: str, *, first_sent: datetime | None = None
    ) -> PlacedCall:
        """Join an ongoing call by its server call id; returns the call connection."""
        ...

    def create_call(
        self,
        target: str,
        source_caller_id: str | None,
        callback_url: str,
        request_id: str,
        *,
        first_sent: datetime | None = None,
    ) -> PlacedCall:
        """Place an outbound call to ``target`` (an ACS raw id)."""
        ...

    def read_call(
        self,
        call_connection_id: str,
        recording_id: str | None,
        *,
        properties: bool,
        direction: str = "inbound",
    ) -> CallRead:
        """Read the participants, and the call's properties and the recording's state where asked."""
        ...

    def prompt_for_consent(
        self,
        call_connection_id: str,
        target: str,
        prompt: Prompt,
        silence_timeout_seconds: int,
        operation_context: str,
        request_id: str,
    ) -> None: ...

    def watch_dtmf(
        self, call_connection_id: str, target: str, operation_context: str, request_id: str
    ) -> None: ...

    def start_recording(
        self,
        call_connection_id: str,
        state_callback_url: str,
        request_id: str,
        *,
        destination_container_url: str | None = None,
        first_sent: datetime | None = None,
    ) -> str:
        """Start recording the whole call; returns the recording id. ``destination_container_url``: ACS
        writes the files into that Blob container (externalStorage) instead of keeping them itself."""
        ...

    def pause_recording(self, recording_id: str, request_id: str) -> None: ...

    def resume_recording(self, recording_id: str, request_id: str) -> None: ...

    def stop_recording(self, recording_id: str, request_id: str) -> None: ...

    def hang_up(
        self, call_connection_id: str, request_id: str, *, first_sent: datetime | None = None
    ) -> None: ...


class PublishError(PortError):
    """The event topic did not take the events; they stay queued and are sent again later."""


class EventPublisher(Protocol):
    def publish(self, events: Sequence[OutgoingEvent]) -> None:
        """Send the events, in this order, in one request; raise ``PublishError`` when they were not taken."""
        ...
