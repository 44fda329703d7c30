"""ACS REST recording operations: start (by call connection or server call), pause, resume, stop, get."""

from __future__ import annotations

from datetime import UTC, datetime

from recorder.emulator import events
from recorder.emulator.connections import callback_uri
from recorder.emulator.engine import Emulator, new_recording_id
from recorder.emulator.rest import AcsRequest, Reply, bad_request, conflict, not_found
from recorder.emulator.state import Call, Recording

RECORDING_KIND = "azureCommunicationServices"
ALLOWED_VALUES = {
    "recordingContentType": ("audio", "audioVideo"),
    "recordingChannelType": ("mixed", "unmixed"),
    "recordingFormatType": ("wav", "mp3", "mp4"),
}


def recording_state(recording: Recording) -> dict[str, str]:
    state = "active" if recording.state == "active" else "inactive"
    return {"recordingId": recording.recording_id, "recordingState": state, "recordingKind": RECORDING_KIND}


class RecordingOperations:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def _target_call(self, request: AcsRequest) -> Call:
        call_connection_id = request.text("callConnectionId")
        if call_connection_id:
            return self.emulator.call_for_connection(call_connection_id)
        locator = request.section("callLocator")
        if not locator:
            raise bad_request("callConnectionId or callLocator is required.")
        if locator.get("kind", "serverCallLocator") != "serverCallLocator":
            raise bad_request("The emulator supports only serverCallLocator.")
        server_call_id = request.required_text("serverCallId", source=locator)
        call = self.emulator.state.calls.get(server_call_id)
        if call is None:
            raise not_found(f"Call {server_call_id} was not found.")
        return call

    def _recording(self, request: AcsRequest) -> tuple[Call, Recording]:
        recording_id = request.params["recording_id"]
        recording = self.emulator.state.recordings.get(recording_id)
        if recording is None or recording.state == "stopped":
            raise not_found(f"Recording {recording_id} was not found.")
        call = self.emulator.state.calls[recording.server_call_id]
        request.record.server_call_id = call.server_call_id
        return call, recording

    def start_recording(self, request: AcsRequest) -> Reply:
        call = self._target_call(request)
        request.record.server_call_id = call.server_call_id
        kinds = self._kinds(request, call)
        pause_on_start = request.body.get("pauseOnStart") is True
        external = request.section("externalStorage")
        container_url = (
            request.text("recordingDestinationContainerUrl", source=external) if external else None
        )
        state_callback = callback_uri(request, "recordingStateCallbackUri")
        if call.active_recording() is not None:
            raise conflict("A recording of this call is already in progress.")

        recording = Recording(
            recording_id=new_recording_id(call.call_connection_id),
            server_call_id=call.server_call_id,
            state="stopped",
            callback_url=state_callback,
            started_at=datetime.now(UTC),
            external_container_url=container_url,
            **kinds,
        )
        call.recordings.append(recording)
        self.emulator.state.recordings[recording.recording_id] = recording
        if call.state != "connected":
            self.emulator.emit(
                call,
                "StartRecordingFailed",
                {"recordingId": recording.recording_id},
                result=events.NOT_CONNECTED,
                url=state_callback,
            )
            return Reply(200, recording_state(recording))
        state = "inactive" if pause_on_start else "active"
        self.emulator.set_recording_state(call, recording, state)
        self.emulator.recording_state_changed(call, recording, state)
        return Reply(200, recording_state(recording))

    def _kinds(self, request: AcsRequest, call: Call) -> dict[str, str]:
        """What the request asked for; ACS's default for what it left out (knobs ``recording_*_default``)."""
        behaviour = call.behaviour
        defaults = {
            "recordingContentType": behaviour.recording_content_default,
            "recordingChannelType": behaviour.recording_channel_default,
            "recordingFormatType": behaviour.recording_format_default,
        }
        chosen = {}
        for name, allowed in ALLOWED_VALUES.items():
            value = request.text(name)
            if value is not None and value not in allowed:
                raise bad_request(f"{name} must be one of {', '.join(allowed)}.")
            chosen[name] = value or defaults[name]
        return {
            "content_type": chosen["recordingContentType"],
            "channel_type": chosen["recordingChannelType"],
            "format_type": chosen["recordingFormatType"],
        }

    def get_recording_properties(self, request: AcsRequest) -> Reply:
        _, recording = self._recording(request)
        return Reply(200, recording_state(recording))

    def pause_recording(self, request: AcsRequest) -> Reply:
        call, recording = self._recording(request)
        if recording.state == "active":
            self.emulator.set_recording_state(call, recording, "inactive")
            self.emulator.recording_state_changed(call, recording, "inactive")
        return Reply(202)

    def resume_recording(self, request: AcsRequest) -> Reply:
        call, recording = self._recording(request)
        if recording.state == "inactive":
            self.emulator.set_recording_state(call, recording, "active")
            self.emulator.recording_state_changed(call, recording, "active")
        return Reply(202)

    def stop_recording(self, request: AcsRequest) -> Reply:
        call, recording = self._recording(request)
        self.emulator.set_recording_state(call, recording, "stopped")
        self.emulator.recording_state_changed(call, recording, "inactive")
        return Reply(204)
