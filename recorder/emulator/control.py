"""The control API under ``/emulator/``: start scripted calls, look inside, reset. JSON, no auth."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from recorder.emulator.engine import Emulator
from recorder.emulator.scenario import ScenarioError, parse_call_scenario, parse_participant


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError as error:
        raise ScenarioError("the body is not valid JSON") from error


def _invalid(error: ScenarioError) -> Response:
    return JSONResponse({"error": {"code": "InvalidScenario", "message": str(error)}}, status_code=400)


def control_routes(emulator: Emulator) -> list[Route]:
    async def start_call(request: Request) -> Response:
        try:
            scenario = parse_call_scenario(await _json_body(request))
        except ScenarioError as error:
            return _invalid(error)
        call = emulator.create_call(scenario, "inbound")
        body = {
            "server_call_id": call.server_call_id,
            "incoming_call_context": call.incoming_call_context,
            "correlation_id": call.correlation_id,
        }
        return JSONResponse(body, status_code=201)

    async def register_scripts(request: Request) -> Response:
        try:
            body = await _json_body(request)
            items = body.get("participants") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise ScenarioError("participants must be a list")
            scripts = [parse_participant(item) for item in items]
        except ScenarioError as error:
            return _invalid(error)
        for script in scripts:
            emulator.state.outbound_scripts[script.raw_id] = script
        return JSONResponse({"registered": [script.raw_id for script in scripts]}, status_code=201)

    async def list_calls(request: Request) -> Response:
        now = time.monotonic()
        return JSONResponse([call.describe(now) for call in emulator.state.calls.values()])

    async def get_call(request: Request) -> Response:
        call_id = request.path_params["call_id"]
        state = emulator.state
        call = state.calls.get(call_id) or state.calls.get(state.by_connection.get(call_id, ""))
        if call is None:
            return JSONResponse(
                {"error": {"code": "NotFound", "message": f"No call {call_id}."}}, status_code=404
            )
        return JSONResponse(call.describe(time.monotonic()))

    async def list_requests(request: Request) -> Response:
        return JSONResponse(emulator.state.describe_requests())

    async def reset(request: Request) -> Response:
        emulator.reset()
        return Response(status_code=204)

    async def unknown(request: Request) -> Response:
        message = f"No control operation {request.method} {request.url.path}."
        return JSONResponse({"error": {"code": "NotFound", "message": message}}, status_code=404)

    return [
        Route("/emulator/calls", start_call, methods=["POST"]),
        Route("/emulator/calls", list_calls, methods=["GET"]),
        Route("/emulator/calls/{call_id:path}", get_call, methods=["GET"]),
        Route("/emulator/scripts", register_scripts, methods=["POST"]),
        Route("/emulator/requests", list_requests, methods=["GET"]),
        Route("/emulator/reset", reset, methods=["POST"]),
        Route("/emulator/{rest:path}", unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]
