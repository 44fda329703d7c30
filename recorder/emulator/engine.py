"""The emulator's core: calls over time. It owns the state, the timers that play the scripts, and the queue
of callbacks; the REST operations and the control API act through it. Everything runs on the event loop."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from recorder.emulator import events
from recorder.emulator.callbacks import CallbackDispatcher, Delivery
from recorder.emulator.config import EmulatorConfig
from recorder.emulator.rest import bad_request, not_found
from recorder.emulator.scenario import TONE_WORDS, CallScenario
from recorder.emulator.signing import CallbackSigner
from recorder.emulator.state import Call, EmulatorState, Participant, Recording, close_span, open_span

log = logging.getLogger("recorder.emulator")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_server_call_id() -> str:
    """Like ACS's: the base64 of a conversation URL."""
    conversation = secrets.token_urlsafe(16)
    ticks = 638_000_000_000_000_000 + secrets.randbelow(10**15)
    host = "https://api.flightproxy.skype.com/api/v2/cp/conv-emulator.conv.skype.com"
    url = f"{host}/conv/{conversation}?i=10-128-0-1&e={ticks}"
    return base64.b64encode(url.encode("ascii")).decode("ascii")


def new_incoming_call_context(server_call_id: str) -> str:
    """Opaque to clients; shaped like ACS's unsigned JWT."""
    header = _b64url(json.dumps({"alg": "none", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(
        json.dumps({"cc": secrets.token_urlsafe(48), "scid": server_call_id}, separators=(",", ":")).encode()
    )
    return f"{header}.{payload}."


def new_recording_id(call_connection_id: str | None) -> str:
    ids = {
        "PlatformEndpointId": call_connection_id or str(uuid.uuid4()),
        "ResourceSpecificId": str(uuid.uuid4()),
    }
    return _b64url(json.dumps(ids, separators=(",", ":")).encode())


class Emulator:
    def __init__(self, config: EmulatorConfig, *, base_url: str) -> None:
        self.config = config
        self.base_url = base_url
        self.issuer = config.issuer or base_url
        self.signer = CallbackSigner()
        self.dispatcher = CallbackDispatcher(self.signer, issuer=self.issuer, audience=config.resource_id)
        self.state = EmulatorState()
        self._timers: dict[str, dict[str, asyncio.TimerHandle]] = {}
        self.recording_stopped: list[Callable[[Call, Recording], None]] = []  # e.g. recording files

    # Lookups -----------------------------------------------------------------------------------------

    def call_for_connection(self, call_connection_id: str) -> Call:
        server_call_id = self.state.by_connection.get(call_connection_id)
        call = self.state.calls.get(server_call_id or "")
        if call is None or call.state == "disconnected":
            raise not_found(f"Call connection {call_connection_id} was not found.")
        return call

    def present_participant(self, call: Call, raw_id: str) -> Participant:
        participant = call.participants.get(raw_id)
        if participant is None or not participant.present:
            raise bad_request(f"Participant {raw_id} is not in the call.")
        return participant

    # Timers and callbacks ----------------------------------------------------------------------------

    def schedule(
        self, call: Call, delay_ms: float, action: Callable[[], None], key: str | None = None
    ) -> None:
        """Run ``action`` after a scripted delay (scaled by ``time_scale``) unless the call ends first."""
        key = key or uuid.uuid4().hex
        delay_s = max(0.0, delay_ms * self.config.time_scale / 1000)
        handle = asyncio.get_running_loop().call_later(delay_s, self._fire, call, key, action)
        self._timers.setdefault(call.server_call_id, {})[key] = handle

    def cancel_timer(self, call: Call, key: str) -> None:
        handle = self._timers.get(call.server_call_id, {}).pop(key, None)
        if handle is not None:
            handle.cancel()

    def _fire(self, call: Call, key: str, action: Callable[[], None]) -> None:
        self._timers.get(call.server_call_id, {}).pop(key, None)
        if call.state == "disconnected":
            return
        try:
            action()
        except Exception:
            log.exception("emulator.timer.failed server_call_id=%s", call.server_call_id)

    def emit(
        self,
        call: Call,
        name: str,
        fields: dict[str, Any] | None = None,
        *,
        result: dict[str, Any] = events.ACTION_OK,
        operation_context: str | None = None,
        url: str | None = None,
        source: str | None = None,
    ) -> None:
        """Queue one callback CloudEvent to ``url`` or else the call's callback URI."""
        target = url or call.callback_url
        if target is None:
            log.info("emulator.callback.skipped type=%s reason=no-callback-uri", name)
            return
        event = events.cloud_event(
            name, call, fields or {}, result=result, operation_context=operation_context, source=source
        )
        delivery = Delivery(target, [event], event["type"], call.callbacks.append)
        self.dispatcher.submit(call.server_call_id, delivery)

    # Call lifecycle ----------------------------------------------------------------------------------

    def create_call(self, scenario: CallScenario, direction: str) -> Call:
        server_call_id = new_server_call_id()
        call = Call(
            scenario=scenario,
            server_call_id=server_call_id,
            correlation_id=str(uuid.uuid4()),
            incoming_call_context=new_incoming_call_context(server_call_id),
            direction=direction,
        )
        self.state.add_call(call)
        if direction == "inbound" and scenario.deliver_incoming_call and self.config.eventgrid_webhook_url:
            event = events.incoming_call_event(call)
            delivery = Delivery(
                self.config.eventgrid_webhook_url,
                [event],
                event["eventType"],
                call.callbacks.append,
                eventgrid=True,
            )
            self.dispatcher.submit(call.server_call_id, delivery)
        return call

    def attach_connection(self, call: Call, callback_url: str, operation_context: str | None) -> None:
        call.call_connection_id = str(uuid.uuid4())
        call.callback_url = callback_url
        call.operation_context = operation_context
        self.state.by_connection[call.call_connection_id] = call.server_call_id

    def start_timeline(self, call: Call) -> None:
        """The call is answered: CallConnected, the first participants, and the script from here on."""
        call.state = "connected"
        self.emit(call, "CallConnected", result=events.CONNECTED, operation_context=call.operation_context)
        now_ms = call.ms(time.monotonic())
        for participant in call.participants.values():
            script = participant.script
            if script.join_at_ms <= 0:
                participant.set_present(True, now_ms)
            else:
                self.schedule(call, script.join_at_ms, partial(self.join, call, participant))
            if script.leave_at_ms is not None:
                self.schedule(call, script.leave_at_ms, partial(self.leave, call, participant))
            for tone in script.continuous_tones:
                self.schedule(call, tone.at_ms, partial(self.continuous_tone, call, participant, tone.key))
        self.participants_updated(call)
        if call.scenario.hang_up_after_ms is not None:
            hang_up = partial(self.disconnect, call, events.ENDED_BY_PARTICIPANT)
            self.schedule(call, call.scenario.hang_up_after_ms, hang_up)

    def participants_updated(self, call: Call) -> None:
        call.sequence_number += 1
        fields = {"participants": call.participant_models(), "sequenceNumber": call.sequence_number}
        self.emit(call, "ParticipantsUpdated", fields, result=events.CONNECTED)

    def join(self, call: Call, participant: Participant) -> None:
        if participant.present or participant.left:
            return
        participant.set_present(True, call.ms(time.monotonic()))
        self.participants_updated(call)

    def leave(self, call: Call, participant: Participant) -> None:
        if not participant.present:
            participant.left = True  # leaving before joining means never joining
            return
        participant.set_present(False, call.ms(time.monotonic()))
        # An unanswered prompt of someone who left gets no outcome: the service sees them leave instead.
        for op_id, operation in list(call.pending.items()):
            if operation.target == participant.raw_id:
                self.cancel_timer(call, op_id)
                del call.pending[op_id]
        if call.present():
            self.participants_updated(call)
        else:
            self.disconnect(call, events.ENDED_BY_PARTICIPANT)

    def continuous_tone(self, call: Call, participant: Participant, key: str) -> None:
        if not participant.present:
            return
        if key == "9":
            # The participant withdraws consent whether or not the service is listening.
            participant.withdraw(call.ms(time.monotonic()))
        if participant.continuous_armed:
            call.dtmf_sequence_id += 1
            fields = {"tone": TONE_WORDS[key], "sequenceId": call.dtmf_sequence_id}
            self.emit(
                call,
                "ContinuousDtmfRecognitionToneReceived",
                fields,
                operation_context=participant.continuous_context,
            )

    def disconnect(self, call: Call, result: dict[str, Any]) -> None:
        if call.state == "disconnected":
            return
        for handle in self._timers.pop(call.server_call_id, {}).values():
            handle.cancel()
        call.pending.clear()
        now_ms = call.ms(time.monotonic())
        recording = call.active_recording()
        if recording is not None:
            was_active = recording.state == "active"
            self.set_recording_state(call, recording, "stopped")
            if was_active:
                self.recording_state_changed(call, recording, "inactive")
        for participant in call.present():
            participant.set_present(False, now_ms)
        call.state = "disconnected"
        if call.call_connection_id is not None:
            self.emit(call, "CallDisconnected", result=result)

    # Recordings (shared with the REST operations) ---------------------------------------------------

    def set_recording_state(self, call: Call, recording: Recording, state: str) -> None:
        now_ms = call.ms(time.monotonic())
        recording.state = state
        if state == "stopped":
            for listener in self.recording_stopped:
                listener(call, recording)
        if state == "active":
            open_span(call.recording_spans, now_ms)
        else:
            close_span(call.recording_spans, now_ms)

    def recording_state_changed(self, call: Call, recording: Recording, state: str) -> None:
        fields = {
            "recordingId": recording.recording_id,
            "state": state,
            "startDateTime": events.timestamp(recording.started_at),
            "recordingKind": "azureCommunicationServices",
        }
        source = events.recording_source(call.server_call_id, recording.recording_id)
        self.emit(
            call,
            "RecordingStateChanged",
            fields,
            result=events.CONNECTED,
            url=recording.callback_url,
            source=source,
        )

    # Control ----------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every call, recording and request; pending timers and deliveries are dropped."""
        self._cancel_timers()
        self.dispatcher.cancel_all()
        self.state = EmulatorState()

    async def aclose(self) -> None:
        self._cancel_timers()
        await self.dispatcher.aclose()

    def _cancel_timers(self) -> None:
        for handles in self._timers.values():
            for handle in handles.values():
                handle.cancel()
        self._timers.clear()
