"""The emulator's core: calls over time. It owns the state, the timers that play the scripts, and the queue
of callbacks; the REST operations and the control API act through it. Everything runs on the event loop.

Participants live in ``roster.py`` and media operations in ``media_queue.py``; both act through this class.
"""

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
from recorder.emulator.behaviour import Behaviour, parse_behaviour
from recorder.emulator.callbacks import CallbackDispatcher, Delivery
from recorder.emulator.config import EmulatorConfig
from recorder.emulator.eventgrid import EventGridSender
from recorder.emulator.faults import FaultBook
from recorder.emulator.media_queue import MediaQueue
from recorder.emulator.repeatability import Repeatability
from recorder.emulator.rest import bad_request, not_found
from recorder.emulator.roster import Roster
from recorder.emulator.scenario import CallScenario
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
        self.behaviour: Behaviour = config.behaviour
        self.faults = FaultBook()
        self.dispatcher = CallbackDispatcher(
            self.signer,
            issuer=self.issuer,
            audience=config.resource_id,
            faults=self.faults,
            time_scale=config.time_scale,
        )
        self.eventgrid = EventGridSender(
            self.dispatcher, base_url=base_url, audience=config.eventgrid_token_audience
        )
        self.dispatcher.eventgrid = self.eventgrid
        self.state = EmulatorState()
        self.repeatability = Repeatability()
        self.roster = Roster(self)
        self.media = MediaQueue(self)
        self._timers: dict[str, dict[str, asyncio.TimerHandle]] = {}
        self.recording_stopped: list[Callable[[Call, Recording], None]] = []  # e.g. recording files

    @property
    def app_identity(self) -> str:
        return self.config.application_identity

    # Lookups -----------------------------------------------------------------------------------------

    def call_for_connection(self, call_connection_id: str) -> Call:
        server_call_id = self.state.by_connection.get(call_connection_id)
        call = self.state.calls.get(server_call_id or "")
        if call is None or call.state == "disconnected":
            raise not_found(f"Call connection {call_connection_id} was not found.")
        return call

    def find_call(self, call_id: str) -> Call | None:
        """A call by its server call id or one of its call connection ids."""
        state = self.state
        return state.calls.get(call_id) or state.calls.get(state.by_connection.get(call_id, ""))

    def owns(self, raw_id: str) -> bool:
        """An identity or number of the emulated resource: configured, or the ``to`` of a scripted call."""
        return self.config.owns(raw_id) or raw_id in self.state.resource_numbers

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
        self.cancel_timer(call, key)
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
        delivery = Delivery(
            target,
            [event],
            event["type"],
            call.callbacks.append,
            server_call_id=call.server_call_id,
            retries=call.behaviour.callback_retries,
        )
        self.dispatcher.submit(call.server_call_id, delivery)

    def publish(self, call: Call | None, event: dict[str, Any]) -> None:
        """Deliver one Event Grid schema event to the Event Grid webhook (none configured: dropped)."""
        url = self.config.eventgrid_webhook_url
        if url is None:
            return
        record = call.callbacks.append if call is not None else (lambda attempt: None)
        key = call.server_call_id if call is not None else event["id"]
        delivery = Delivery(url, [event], event["eventType"], record, eventgrid=True, server_call_id=key)
        self.dispatcher.submit_eventgrid(key, delivery, self.behaviour)

    # Call lifecycle ----------------------------------------------------------------------------------

    def create_call(self, scenario: CallScenario, direction: str) -> Call:
        server_call_id = new_server_call_id()
        call = Call(
            scenario=scenario,
            server_call_id=server_call_id,
            correlation_id=str(uuid.uuid4()),
            incoming_call_context=new_incoming_call_context(server_call_id),
            direction=direction,
            behaviour=parse_behaviour(scenario.behaviour, self.behaviour),
            app_identity=self.app_identity,
        )
        self.state.add_call(call)
        if direction == "inbound":
            if scenario.deliver_incoming_call:
                self.publish(call, events.incoming_call_event(call))
            self.roster.ring_resource_identities(call)
        return call

    def attach_connection(self, call: Call, request_body: dict[str, Any], callback_url: str) -> None:
        call.call_connection_id = str(uuid.uuid4())
        call.callback_url = callback_url
        operation_context = request_body.get("operationContext")
        call.operation_context = operation_context if isinstance(operation_context, str) else None
        endpoint = request_body.get("cognitiveServicesEndpoint") or (
            request_body.get("callIntelligenceOptions") or {}
        ).get("cognitiveServicesEndpoint")
        call.cognitive_services_endpoint = endpoint if isinstance(endpoint, str) else None
        self.state.by_connection[call.call_connection_id] = call.server_call_id

    def start_timeline(self, call: Call) -> None:
        """The call is answered: CallConnected, the first participants, and the script from here on."""
        call.state = "connected"
        self.emit(call, "CallConnected", result=events.CONNECTED, operation_context=call.operation_context)
        self.roster.start(call)
        if call.scenario.hang_up_after_ms is not None:
            hang_up = partial(self.disconnect, call, events.ENDED_BY_PARTICIPANT)
            self.schedule(call, call.scenario.hang_up_after_ms, hang_up)

    def disconnect(self, call: Call, result: dict[str, Any]) -> None:
        if call.state == "disconnected":
            return
        for handle in self._timers.pop(call.server_call_id, {}).values():
            handle.cancel()
        call.media.clear()
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
        fields = events.recording_state_fields(recording.recording_id, state, recording.started_at)
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

    def restart_media(self) -> int:
        """ACS's media processing restarts: every queued or running media operation is lost, unreported."""
        lost = 0
        for call in self.state.calls.values():
            lost += self.media.lose_all(call)
        return lost

    def reset(self) -> None:
        """Forget every call, recording, request and fault; pending timers and deliveries are dropped."""
        self._cancel_timers()
        self.dispatcher.cancel_all()
        self.faults.clear()
        self.state = EmulatorState()
        self.repeatability = Repeatability()

    async def aclose(self) -> None:
        self._cancel_timers()
        await self.dispatcher.aclose()
        await self.media.aclose()

    def _cancel_timers(self) -> None:
        for handles in self._timers.values():
            for handle in handles.values():
                handle.cancel()
        self._timers.clear()
