"""Ports the services need from the outside world; adapters implement them, tests fake them."""

from __future__ import annotations

from typing import Protocol

from recorder.domain.model import Prompt


class AcsError(Exception):
    """A Call Automation request failed; ``transient`` says whether trying again may help."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status


class CallAutomation(Protocol):
    def answer_call(self, incoming_call_context: str, callback_url: str, request_id: str) -> str:
        """Answer; returns the call connection id."""
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

    def start_recording(self, call_connection_id: str, state_callback_url: str, request_id: str) -> str:
        """Start recording the whole call; returns the recording id."""
        ...

    def pause_recording(self, recording_id: str, request_id: str) -> None: ...

    def resume_recording(self, recording_id: str, request_id: str) -> None: ...

    def stop_recording(self, recording_id: str, request_id: str) -> None: ...

    def hang_up(self, call_connection_id: str, request_id: str) -> None: ...
