"""The Starlette app: the ACS REST surface (HMAC-checked), the signing keys, and the control API."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from recorder.emulator import file_routes, recording_files
from recorder.emulator.config import EmulatorConfig
from recorder.emulator.connections import ConnectionOperations
from recorder.emulator.control import control_routes
from recorder.emulator.engine import Emulator
from recorder.emulator.hmac_auth import hmac_denial
from recorder.emulator.identity import identity_acs_table, identity_control_routes
from recorder.emulator.media import MediaOperations
from recorder.emulator.recordings import RecordingOperations
from recorder.emulator.repeatability import applies
from recorder.emulator.rest import AcsError, AcsRequest, Reply
from recorder.emulator.signing import openid_configuration
from recorder.emulator.state import RequestRecord
from recorder.emulator.topic import Topic, topic_routes

Handler = Callable[[AcsRequest], Reply]
CONNECTION = "/calling/callConnections/(?P<call_connection_id>[^/:]+)"
RECORDING = "/calling/recordings/(?P<recording_id>[^/:]+)"
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@dataclass(frozen=True)
class AcsRoute:
    method: str
    pattern: re.Pattern[str]
    operation: str
    handler: Handler


def acs_routes(emulator: Emulator) -> list[AcsRoute]:
    calls = ConnectionOperations(emulator)
    media = MediaOperations(emulator)
    recordings = RecordingOperations(emulator)
    table: list[tuple[str, str, str, Handler]] = [
        ("POST", "/calling/callConnections", "create_call", calls.create_call),
        ("POST", "/calling/callConnections:answer", "answer_call", calls.answer_call),
        ("POST", "/calling/callConnections:connect", "connect_call", calls.connect_call),
        ("GET", CONNECTION, "get_call_properties", calls.get_call_properties),
        ("DELETE", CONNECTION, "hang_up", calls.hang_up),
        ("POST", CONNECTION + ":terminate", "terminate_call", calls.terminate_call),
        ("GET", CONNECTION + "/participants", "list_participants", calls.list_participants),
        ("POST", CONNECTION + "/participants:remove", "remove_participant", calls.remove_participant),
        ("GET", CONNECTION + "/participants/(?P<raw_id>.+)", "get_participant", calls.get_participant),
        ("POST", CONNECTION + ":play", "play_media", media.play_media),
        ("POST", CONNECTION + ":recognize", "start_recognizing_media", media.start_recognizing_media),
        (
            "POST",
            CONNECTION + ":startContinuousDtmfRecognition",
            "start_continuous_dtmf_recognition",
            media.start_continuous_dtmf_recognition,
        ),
        (
            "POST",
            CONNECTION + ":stopContinuousDtmfRecognition",
            "stop_continuous_dtmf_recognition",
            media.stop_continuous_dtmf_recognition,
        ),
        (
            "POST",
            CONNECTION + ":cancelAllMediaOperations",
            "cancel_all_media_operations",
            media.cancel_all_media_operations,
        ),
        ("POST", "/calling/recordings", "start_recording", recordings.start_recording),
        ("GET", RECORDING, "get_recording_properties", recordings.get_recording_properties),
        ("DELETE", RECORDING, "stop_recording", recordings.stop_recording),
        ("POST", RECORDING + ":pause", "pause_recording", recordings.pause_recording),
        ("POST", RECORDING + ":resume", "resume_recording", recordings.resume_recording),
        *identity_acs_table(emulator),
    ]
    return [
        AcsRoute(method, re.compile(f"^{path}$"), operation, handler)
        for method, path, operation, handler in table
    ]


def match_route(
    routes: list[AcsRoute], method: str, path: str
) -> tuple[AcsRoute | None, dict[str, str], bool]:
    """The route for ``method path`` and its parameters; the flag says whether the path exists at all."""
    path_known = False
    for route in routes:
        found = route.pattern.match(path)
        if found:
            path_known = True
            if route.method == method:
                return route, found.groupdict(), True
    return None, {}, path_known


def _respond(reply: Reply, request: Request) -> Response:
    headers = {}
    client_request_id = request.headers.get("x-ms-client-request-id")
    if client_request_id:
        headers["x-ms-client-request-id"] = client_request_id
    if reply.body is None:
        return Response(status_code=reply.status, headers=headers)
    return JSONResponse(reply.body, status_code=reply.status, headers=headers)


class AcsEndpoint:
    """Verifies, routes and logs every ACS REST request; replays answers to repeated requests."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.routes = acs_routes(emulator)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        path = request.url.path
        record = RequestRecord(at=time.monotonic(), method=request.method, path=path, operation="unknown")
        route, params, path_known = match_route(self.routes, request.method, path)
        if route is not None:
            record.operation = route.operation
        reply = self._handle(request, body, route, params, path_known, record)
        record.status = reply.status
        state = self.emulator.state
        state.requests.append(record)
        call = state.calls.get(record.server_call_id or "")
        if call is not None:
            call.requests.append(record)
        return _respond(reply, request)

    def _handle(
        self,
        request: Request,
        body: bytes,
        route: AcsRoute | None,
        params: dict[str, str],
        path_known: bool,
        record: RequestRecord,
    ) -> Reply:
        denial = hmac_denial(self.emulator.config.access_key, request, body)
        if denial is not None:
            return _error(AcsError(401, "Unauthorized", denial))
        if route is None:
            if path_known:
                return _error(
                    AcsError(405, "MethodNotAllowed", f"{request.method} is not allowed on {record.path}.")
                )
            return _error(AcsError(404, "NotFound", f"No ACS operation at {record.path}."))
        try:
            parsed = json.loads(body) if body.strip() else {}
        except ValueError:
            return _error(AcsError(400, "BadRequest", "The request body is not valid JSON."))
        if not isinstance(parsed, dict):
            return _error(AcsError(400, "BadRequest", "The request body must be a JSON object."))
        acs_request = AcsRequest(params, record, parsed, dict(request.query_params))
        try:
            return self._run(route, acs_request, request.headers, body)
        except AcsError as error:
            return _error(error)

    def _run(self, route: AcsRoute, request: AcsRequest, headers: Headers, body: bytes) -> Reply:
        """Fault rules, then repeatability, then the operation itself."""
        behaviour = self.emulator.behaviour
        fault = self.emulator.faults.take_request_fault(route.operation, request.params)
        if fault is not None and not fault.applied:
            request.record.server_call_id = self._server_call_id(request)
            raise AcsError(fault.status, fault.code, fault.message)
        request_id = headers.get("repeatability-request-id")
        first_sent = headers.get("repeatability-first-sent")
        repeatable = request_id is not None and applies(behaviour, route.operation, request.record.method)
        if repeatable:
            assert request_id is not None
            cached = self.emulator.repeatability.replay(
                behaviour, route.operation, request_id, first_sent, body
            )
            if cached is not None:
                request.record.repeat = True
                request.record.server_call_id = cached.server_call_id
                return Reply(cached.status, cached.body)
        reply = route.handler(request)
        if repeatable and 200 <= reply.status < 300:
            assert request_id is not None
            server_call_id = request.record.server_call_id
            self.emulator.repeatability.remember(
                route.operation, request_id, first_sent, body, reply, server_call_id
            )
        if fault is not None:  # applied: ACS did it and still answered with an error
            raise AcsError(fault.status, fault.code, fault.message)
        return reply

    def _server_call_id(self, request: AcsRequest) -> str | None:
        """The call a request is about, for the timeline, when its handler does not run."""
        state = self.emulator.state
        connection = request.params.get("call_connection_id") or request.body.get("callConnectionId")
        if isinstance(connection, str) and connection in state.by_connection:
            return state.by_connection[connection]
        recording = state.recordings.get(request.params.get("recording_id", ""))
        return recording.server_call_id if recording is not None else None


def _error(error: AcsError) -> Reply:
    return Reply(error.status, error.body())


def create_app(config: EmulatorConfig, *, base_url: str | None = None) -> Starlette:
    """The emulator as an ASGI app; ``base_url`` is where clients reach it (default issuer, JWKS host)."""
    emulator = Emulator(config, base_url=(base_url or f"http://{config.public_host}").rstrip("/"))
    files = recording_files.RecordingFiles(emulator)
    emulator.recording_stopped.append(files.recording_stopped)

    async def keys(request: Request) -> Response:
        return JSONResponse(emulator.signer.jwks())

    async def openid(request: Request) -> Response:
        return JSONResponse(openid_configuration(emulator.issuer, emulator.base_url))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await files.aclose()
        await emulator.aclose()

    routes = [
        Route("/calling/keys", keys, methods=["GET"]),
        Route("/calling/.well-known/acsopenidconfiguration", openid, methods=["GET"]),
        *identity_control_routes(emulator),
        *file_routes.FileRoutes(emulator, files).routes(),
        *topic_routes(Topic(config.events_topic_key)),
        *control_routes(emulator),
        Route("/{path:path}", AcsEndpoint(emulator).handle, methods=ALL_METHODS),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.emulator = emulator
    return app
