"""ACS REST operations on call connections: answer, create, connect, inspect, remove, hang up.

The reads (``get_call_properties``, ``list_participants``) answer from the emulator's own truth: who is in
the call now, as ACS would list them (own identities included, ``nextLink`` paging, ``isOnHold``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from recorder.emulator import events
from recorder.emulator.engine import Emulator
from recorder.emulator.identifiers import PHONE_PREFIX, identifier_model
from recorder.emulator.rest import AcsRequest, Reply, bad_request, conflict, not_found
from recorder.emulator.scenario import CallScenario, ParticipantScript
from recorder.emulator.state import Call

# Scripted time an outbound target takes to pick up.
OUTBOUND_ANSWER_MS = 100.0


def callback_uri(request: AcsRequest, name: str, *, required: bool = False) -> str | None:
    value = request.required_text(name) if required else request.text(name)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise bad_request(f"{name} must be an absolute http(s) URL.")
    return value


def call_properties(call: Call) -> dict[str, Any]:
    """CallConnectionProperties as ACS returns them from answer, create, connect and GET."""
    scenario = call.scenario
    inbound = call.direction == "inbound"
    targets = [scenario.callee] if inbound else [script.raw_id for script in scenario.participants]
    properties: dict[str, Any] = {
        "callConnectionId": call.call_connection_id,
        "serverCallId": call.server_call_id,
        "targets": [identifier_model(raw_id) for raw_id in targets],
        "callConnectionState": call.state,
        "callbackUri": call.callback_url,
        "source": identifier_model(scenario.caller if inbound else call.app_identity),
        "correlationId": call.correlation_id,
        "answeredBy": {"id": call.app_identity},  # CommunicationUserIdentifierModel
    }
    if inbound and scenario.callee.startswith(PHONE_PREFIX):
        properties["answeredFor"] = {"value": scenario.callee[len(PHONE_PREFIX) :]}
    caller_number = scenario.caller if not inbound else None
    if caller_number and caller_number.startswith(PHONE_PREFIX):
        properties["sourceCallerIdNumber"] = {"value": caller_number[len(PHONE_PREFIX) :]}
    return properties


def connected_call(emulator: Emulator, request: AcsRequest) -> Call:
    """The live call the path's call connection id names; the request's record notes its server call id."""
    call = emulator.call_for_connection(request.params["call_connection_id"])
    request.record.server_call_id = call.server_call_id
    return call


class ConnectionOperations:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def answer_call(self, request: AcsRequest) -> Reply:
        context = request.required_text("incomingCallContext")
        callback = callback_uri(request, "callbackUri", required=True)
        state = self.emulator.state
        call = state.calls.get(state.by_context.get(context, ""))
        if call is None or call.direction != "inbound":
            raise bad_request("The incoming call context is not valid.")
        request.record.server_call_id = call.server_call_id
        if call.call_connection_id is not None:
            raise conflict("The call has already been answered.")
        self.emulator.attach_connection(call, request.body, callback or "")
        if call.leg_of is not None:
            self.emulator.roster.leg_answered(call)
        self.emulator.start_timeline(call)
        return Reply(200, call_properties(call))

    def create_call(self, request: AcsRequest) -> Reply:
        targets = request.identifiers("targets")
        if not targets:
            raise bad_request("targets must name at least one participant.")
        callback = callback_uri(request, "callbackUri", required=True)
        # sourceCallerIdNumber is a bare phone number model ({"value"}), source a bare user model ({"id"}).
        number = request.text("value", source=request.section("sourceCallerIdNumber"))
        user = request.text("id", source=request.section("source"))
        source = PHONE_PREFIX + number if number else user or self.emulator.app_identity
        scripts = self.emulator.state.outbound_scripts
        scenario = CallScenario(
            caller=source,
            callee=targets[0],
            participants=tuple(scripts.get(raw_id, ParticipantScript(raw_id)) for raw_id in targets),
        )
        call = self.emulator.create_call(scenario, "outbound")
        request.record.server_call_id = call.server_call_id
        request.record.target = targets[0]
        self.emulator.attach_connection(call, request.body, callback or "")
        call.state = "connecting"
        for target in targets:  # a target of this resource gets an IncomingCall of its own
            self.emulator.roster.ring(call, target, source)
        self.emulator.schedule(call, OUTBOUND_ANSWER_MS, lambda: self.emulator.start_timeline(call))
        return Reply(201, call_properties(call))

    def connect_call(self, request: AcsRequest) -> Reply:
        locator = request.section("callLocator")
        if locator.get("kind", "serverCallLocator") != "serverCallLocator":
            raise bad_request("The emulator supports only serverCallLocator.")
        server_call_id = request.required_text("serverCallId", source=locator)
        callback = callback_uri(request, "callbackUri", required=True)
        call = self.emulator.state.calls.get(server_call_id)
        if call is None or call.state == "disconnected":
            raise not_found(f"Call {server_call_id} was not found.")
        request.record.server_call_id = call.server_call_id
        if call.call_connection_id is not None:
            raise conflict("The emulator allows one call connection per call, and this call has one.")
        self.emulator.attach_connection(call, request.body, callback or "")
        self.emulator.start_timeline(call)
        return Reply(200, call_properties(call))

    def get_call_properties(self, request: AcsRequest) -> Reply:
        return Reply(200, call_properties(connected_call(self.emulator, request)))

    def list_participants(self, request: AcsRequest) -> Reply:
        """One page of the roster; ``nextLink`` (absolute, on this endpoint) points at the next one."""
        call = connected_call(self.emulator, request)
        models = call.participant_models()
        skip = request.query.get("skip", "0")
        if not skip.isascii() or not skip.isdigit() or len(skip) > 6:
            raise bad_request("skip must be a whole number.")
        start, size = int(skip), call.behaviour.participants_page_size
        page: dict[str, Any] = {"value": models[start : start + size]}
        if start + size < len(models):
            connection = quote(call.call_connection_id or "", safe="")
            path = f"/calling/callConnections/{connection}/participants"
            page["nextLink"] = f"{self.emulator.base_url}{path}?skip={start + size}"
        return Reply(200, page)

    def get_participant(self, request: AcsRequest) -> Reply:
        call = connected_call(self.emulator, request)
        raw_id = request.params["raw_id"]
        request.record.target = raw_id
        for model in call.participant_models():
            if model["identifier"]["rawId"] == raw_id:
                return Reply(200, model)
        raise not_found(f"Participant {raw_id} was not found.")

    def remove_participant(self, request: AcsRequest) -> Reply:
        call = connected_call(self.emulator, request)
        raw_id = request.identifier("participantToRemove")
        request.record.target = raw_id
        participant = self.emulator.present_participant(call, raw_id)
        context = request.text("operationContext")
        self.emulator.emit(
            call,
            "RemoveParticipantSucceeded",
            {"participant": identifier_model(raw_id)},
            operation_context=context,
            url=callback_uri(request, "operationCallbackUri"),
        )
        self.emulator.roster.leave(call, participant)
        return Reply(202, {"operationContext": context})

    def hang_up(self, request: AcsRequest) -> Reply:
        self.emulator.disconnect(connected_call(self.emulator, request), events.ENDED_BY_API)
        return Reply(204)

    def terminate_call(self, request: AcsRequest) -> Reply:
        return self.hang_up(request)
