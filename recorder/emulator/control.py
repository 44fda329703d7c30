"""The control API under ``/emulator/``: start scripted calls, look inside, change behaviour, inject faults,
reset. JSON, no auth (the emulator binds loopback only). Documented in ``recorder/emulator/README.md``.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from recorder.emulator.behaviour import BehaviourError, parse_behaviour
from recorder.emulator.call_actions import ActionRefused, apply_action, parse_action
from recorder.emulator.engine import Emulator
from recorder.emulator.faults import FaultError, parse_faults
from recorder.emulator.scenario import ScenarioError, parse_call_scenario, parse_participant


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError as error:
        raise ScenarioError("the body is not valid JSON") from error


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _invalid(error: Exception) -> Response:
    return _error(400, "InvalidScenario", str(error))


def _not_found(call_id: str) -> Response:
    return _error(404, "NotFound", f"No call {call_id}.")


class CallRoutes:
    """Scripted calls: place one, register outbound scripts, look inside, act on a live call."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def routes(self) -> list[Route]:
        return [
            Route("/emulator/calls", self.start_call, methods=["POST"]),
            Route("/emulator/calls", self.list_calls, methods=["GET"]),
            Route("/emulator/calls/{call_id:path}/actions", self.act, methods=["POST"]),
            Route("/emulator/calls/{call_id:path}", self.get_call, methods=["GET"]),
            Route("/emulator/scripts", self.register_scripts, methods=["POST"]),
        ]

    async def start_call(self, request: Request) -> Response:
        try:
            scenario = parse_call_scenario(await _json_body(request))
        except ScenarioError as error:
            return _invalid(error)
        self.emulator.state.resource_numbers.add(scenario.callee)  # the number called is the resource's
        call = self.emulator.create_call(scenario, "inbound")
        body = {
            "server_call_id": call.server_call_id,
            "incoming_call_context": call.incoming_call_context,
            "correlation_id": call.correlation_id,
            "legs": call.legs,
        }
        return JSONResponse(body, status_code=201)

    async def register_scripts(self, request: Request) -> Response:
        try:
            body = await _json_body(request)
            items = body.get("participants") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise ScenarioError("participants must be a list")
            scripts = [parse_participant(item) for item in items]
        except ScenarioError as error:
            return _invalid(error)
        for script in scripts:
            self.emulator.state.outbound_scripts[script.raw_id] = script
        return JSONResponse({"registered": [script.raw_id for script in scripts]}, status_code=201)

    async def list_calls(self, request: Request) -> Response:
        now = time.monotonic()
        return JSONResponse([call.describe(now) for call in self.emulator.state.calls.values()])

    async def get_call(self, request: Request) -> Response:
        call_id = request.path_params["call_id"]
        call = self.emulator.find_call(call_id)
        if call is None:
            return _not_found(call_id)
        return JSONResponse(call.describe(time.monotonic()))

    async def act(self, request: Request) -> Response:
        call_id = request.path_params["call_id"]
        call = self.emulator.find_call(call_id)
        if call is None:
            return _not_found(call_id)
        try:
            action = parse_action(await _json_body(request))
            return JSONResponse(apply_action(self.emulator, call, action))
        except ScenarioError as error:
            return _invalid(error)
        except ActionRefused as error:
            return _error(409, "Conflict", str(error))


def behaviour_routes(emulator: Emulator) -> list[Route]:
    async def get_behaviour(request: Request) -> Response:
        return JSONResponse(emulator.behaviour.describe())

    async def change_behaviour(request: Request) -> Response:
        """Merge knobs into the emulator-wide behaviour; calls created from now on use it."""
        try:
            emulator.behaviour = parse_behaviour(await _json_body(request), emulator.behaviour)
        except (ScenarioError, BehaviourError) as error:
            return _invalid(error)
        return JSONResponse(emulator.behaviour.describe())

    async def add_faults(request: Request) -> Response:
        try:
            faults = parse_faults(await _json_body(request))
        except (ScenarioError, FaultError) as error:
            return _invalid(error)
        emulator.faults.add(faults)
        return JSONResponse(emulator.faults.describe(), status_code=201)

    async def list_faults(request: Request) -> Response:
        return JSONResponse(emulator.faults.describe())

    async def clear_faults(request: Request) -> Response:
        emulator.faults.clear()
        return Response(status_code=204)

    async def restart(request: Request) -> Response:
        return JSONResponse({"lost_media_operations": emulator.restart_media()})

    return [
        Route("/emulator/behaviour", get_behaviour, methods=["GET"]),
        Route("/emulator/behaviour", change_behaviour, methods=["PUT"]),
        Route("/emulator/faults", add_faults, methods=["POST"]),
        Route("/emulator/faults", list_faults, methods=["GET"]),
        Route("/emulator/faults", clear_faults, methods=["DELETE"]),
        Route("/emulator/restart", restart, methods=["POST"]),
    ]


def control_routes(emulator: Emulator) -> list[Route]:
    async def list_requests(request: Request) -> Response:
        return JSONResponse(emulator.state.describe_requests())

    async def reset(request: Request) -> Response:
        emulator.reset()
        return Response(status_code=204)

    async def identities(request: Request) -> Response:
        """The application's own identity and the numbers the resource owns (scripted ``to`` included)."""
        numbers = sorted({*emulator.config.resource_numbers, *emulator.state.resource_numbers})
        return JSONResponse({"application": emulator.app_identity, "numbers": numbers})

    async def entra_keys(request: Request) -> Response:
        return JSONResponse(emulator.eventgrid.entra_key.jwks())

    async def eventgrid(request: Request) -> Response:
        return JSONResponse(
            {"subscriptions": emulator.eventgrid.describe(), "issuer": emulator.eventgrid.issuer}
        )

    async def unknown(request: Request) -> Response:
        return _error(404, "NotFound", f"No control operation {request.method} {request.url.path}.")

    return [
        *CallRoutes(emulator).routes(),
        *behaviour_routes(emulator),
        Route("/emulator/requests", list_requests, methods=["GET"]),
        Route("/emulator/reset", reset, methods=["POST"]),
        Route("/emulator/self", identities, methods=["GET"]),
        Route("/emulator/entra/keys", entra_keys, methods=["GET"]),
        Route("/emulator/eventgrid", eventgrid, methods=["GET"]),
        Route("/emulator/{rest:path}", unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]
