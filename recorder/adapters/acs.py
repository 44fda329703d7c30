"""The Call Automation port over the official SDK. SDK errors become ``AcsError`` here and nowhere else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, TypeVar

from azure.communication.callautomation import (
    AzureBlobContainerRecordingStorage,
    CallAutomationClient,
    FileSource,
    PhoneNumberIdentifier,
    RecognizeInputType,
    TextSource,
)
from azure.communication.callautomation._shared.models import identifier_from_raw_id
from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
)

from recorder.adapters.azure_errors import AzureFailure, Kind, read_azure_error
from recorder.adapters.credentials import acs_client
from recorder.domain.model import Prompt
from recorder.services.ports import AcsError, CallRead, PlacedCall

T = TypeVar("T")
CONNECTION_STATES = {"connected": True, "disconnected": False, "disconnecting": False}

FAIL_SAFE_RETRIES = 1  # the SDK's own retries of a pause or stop; the dispatcher retries a few times more


def build_client(
    endpoint: str, access_key: str | None, credential: TokenCredential | None
) -> CallAutomationClient:
    return acs_client(CallAutomationClient, endpoint, access_key, credential)


class AcsCallAutomation:
    def __init__(self, client: CallAutomationClient, cognitive_services_endpoint: str | None = None) -> None:
        self._client = client
        self._cognitive = cognitive_services_endpoint

    def answer_call(
        self,
        incoming_call_context: str,
        callback_url: str,
        request_id: str,
        *,
        first_sent: datetime | None = None,
    ) -> PlacedCall:
        props = call_acs(
            lambda: self._client.answer_call(
                incoming_call_context,
                callback_url,
                cognitive_services_endpoint=self._cognitive,
                operation_context=request_id,
                headers=_repeatable(request_id, first_sent),
            )
        )
        return _joined(props, "answer_call")

    def connect_call(
        self, server_call_id: str, callback_url: str, request_id: str, *, first_sent: datetime | None = None
    ) -> PlacedCall:
        props = call_acs(
            lambda: self._client.connect_call(
                callback_url,
                server_call_id=server_call_id,  # the SDK builds the ServerCallLocator
                cognitive_services_endpoint=self._cognitive,
                operation_context=request_id,
                headers=_repeatable(request_id, first_sent),
            )
        )
        return _joined(props, "connect_call")

    def create_call(
        self,
        target: str,
        source_caller_id: str | None,
        callback_url: str,
        request_id: str,
        *,
        first_sent: datetime | None = None,
    ) -> PlacedCall:
        props = call_acs(
            lambda: self._client.create_call(
                identifier_from_raw_id(target),
                callback_url,
                source_caller_id_number=PhoneNumberIdentifier(source_caller_id) if source_caller_id else None,
                cognitive_services_endpoint=self._cognitive,
                operation_context=request_id,
                headers=_repeatable(request_id, first_sent),
            )
        )
        if not props.call_connection_id or not props.server_call_id:
            raise AcsError("create_call returned no call connection or server call id", transient=False)
        own = _own_identities(props, outbound=True)
        return PlacedCall(str(props.call_connection_id), str(props.server_call_id), own)

    def read_call(
        self,
        call_connection_id: str,
        recording_id: str | None,
        *,
        properties: bool,
        direction: str = "inbound",
    ) -> CallRead:
        connection = self._client.get_call_connection(call_connection_id)
        try:
            listed = call_acs(lambda: list(connection.list_participants()))
            props = call_acs(connection.get_call_properties) if properties else None
        except AcsError as exc:
            if exc.status == 404:
                return CallRead(connected=False)
            raise
        ids = [_raw_id(p.identifier) for p in listed]
        participants = None if any(i is None for i in ids) else tuple(i for i in ids if i)
        connected = None if props is None else CONNECTION_STATES.get(str(props.call_connection_state).lower())
        own = () if props is None else _own_identities(props, outbound=direction == "outbound")
        return CallRead(connected, participants, own, self._recording_state(recording_id))

    def _recording_state(self, recording_id: str | None) -> str | None:
        if recording_id is None:
            return None
        try:
            props = call_acs(lambda: self._client.get_recording_properties(recording_id))
        except AcsError as exc:
            if exc.status == 404:
                return "gone"
            raise
        state = str(props.recording_state or "").lower()
        return "active" if state == "active" else "inactive"

    def prompt_for_consent(
        self,
        call_connection_id: str,
        target: str,
        prompt: Prompt,
        silence_timeout_seconds: int,
        operation_context: str,
        request_id: str,
    ) -> None:
        source: TextSource | FileSource
        if prompt.audio_url is not None:
            source = FileSource(url=prompt.audio_url)
        else:
            source = TextSource(text=prompt.text or "", source_locale=prompt.locale)
        connection = self._client.get_call_connection(call_connection_id)
        call_acs(
            lambda: connection.start_recognizing_media(
                RecognizeInputType.DTMF,
                identifier_from_raw_id(target),
                play_prompt=source,
                initial_silence_timeout=silence_timeout_seconds,
                interrupt_prompt=True,
                dtmf_max_tones_to_collect=1,
                dtmf_inter_tone_timeout=5,
                operation_context=operation_context,
            )
        )

    def watch_dtmf(
        self, call_connection_id: str, target: str, operation_context: str, request_id: str
    ) -> None:
        connection = self._client.get_call_connection(call_connection_id)
        call_acs(
            lambda: connection.start_continuous_dtmf_recognition(
                identifier_from_raw_id(target), operation_context=operation_context
            )
        )

    def start_recording(
        self,
        call_connection_id: str,
        state_callback_url: str,
        request_id: str,
        *,
        destination_container_url: str | None = None,
        first_sent: datetime | None = None,
    ) -> str:
        url = destination_container_url
        storage = AzureBlobContainerRecordingStorage(url) if url else None
        props = call_acs(
            lambda: self._client.start_recording(
                call_connection_id=call_connection_id,
                recording_state_callback_url=state_callback_url,
                recording_storage=storage,
                # what storage expects; ACS's own default is audio and video in mp4
                recording_content_type="audio",
                recording_channel_type="mixed",
                recording_format_type="wav",
                headers=_repeatable(request_id, first_sent),
            )
        )
        if not props.recording_id:
            raise AcsError("start_recording returned no recording id", transient=False)
        return str(props.recording_id)

    # pause, resume and stop are not de-duplicated by ACS (SDK 1.6.0 sends no repeatability headers): each
    # request runs, which is harmless, as they set a state rather than add one

    def pause_recording(self, recording_id: str, request_id: str) -> None:
        # a failing pause is retried quickly by the dispatcher, then the recording is stopped: no long waits
        call_acs(lambda: self._client.pause_recording(recording_id, retry_total=FAIL_SAFE_RETRIES))

    def resume_recording(self, recording_id: str, request_id: str) -> None:
        call_acs(lambda: self._client.resume_recording(recording_id))

    def stop_recording(self, recording_id: str, request_id: str) -> None:
        try:
            call_acs(lambda: self._client.stop_recording(recording_id, retry_total=FAIL_SAFE_RETRIES))
        except AcsError as exc:
            if exc.status != 404:  # already stopped with the call
                raise

    def hang_up(
        self, call_connection_id: str, request_id: str, *, first_sent: datetime | None = None
    ) -> None:
        connection = self._client.get_call_connection(call_connection_id)
        try:
            call_acs(lambda: connection.hang_up(True, headers=_repeatable(request_id, first_sent)))
        except AcsError as exc:
            if exc.status != 404:  # the call is already gone
                raise


def _raw_id(identifier: Any) -> str | None:
    raw = getattr(identifier, "raw_id", None)
    return str(raw) if raw else None


def _joined(props: Any, operation: str) -> PlacedCall:
    """The call ACS answered or connected us to: of no use without its connection id."""
    if not props.call_connection_id:
        raise AcsError(f"{operation} returned no call connection id", transient=False)
    return PlacedCall(str(props.call_connection_id), own_identities=_own_identities(props))


def _own_identities(props: Any, *, outbound: bool = False) -> tuple[str, ...]:
    """Who the service is in the call: the identity that answered or connected, and the number an incoming
    call was for (``answeredFor``, set only for a PSTN target: the resource's own number, whether this service
    answered the call or connected to it later); for a call it placed, its source (for an incoming call,
    ``source`` is the caller)."""
    found = [_raw_id(props.answered_by), _raw_id(props.answered_for)]
    if outbound:
        found += [_raw_id(props.source), _raw_id(props.source_caller_id_number)]
    return tuple(dict.fromkeys(i for i in found if i))


def _repeatable(request_id: str, first_sent: datetime | None) -> dict[str, str]:
    """The same two headers on every attempt of a command: ACS refuses a retry whose First-Sent moved."""
    headers = {"Repeatability-Request-ID": request_id}
    if first_sent is not None:  # else the SDK stamps the time of this attempt
        headers["Repeatability-First-Sent"] = format_datetime(first_sent.astimezone(UTC), usegmt=True)
    return headers


def call_acs(operation: Callable[[], T]) -> T:
    """Run an SDK call; its errors become ``AcsError``."""
    try:
        return operation()
    except AzureError as exc:
        failure = read_azure_error(exc)
        raise AcsError(_message(exc, failure), transient=failure.transient, status=failure.status) from None


def _message(exc: AzureError, failure: AzureFailure) -> str:
    if isinstance(exc, HttpResponseError):
        return _describe(exc)
    if failure.kind == Kind.UNREACHABLE:
        return f"ACS unreachable: {failure.name}"
    return f"ACS error: {failure.name}"


def _describe(exc: HttpResponseError) -> str:
    error: Any = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    return f"ACS answered {exc.status_code}" + (f" ({code})" if code else "")
