"""Recording on request, for call-center apps (role ``service``).

POST/GET/DELETE /api/recordings and POST /api/calls.

Every input is checked before anything is written; a bad one is a 400 with a code naming the problem.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from recorder.bootstrap import Container
from recorder.services.keys import Role
from recorder.services.recordings import Caller, NewRequest, RecordingRequests, RequestError
from recorder.web.api import ApiError, _principal
from recorder.web.responses import BodyTooLarge, error, read_body

REQUESTERS = frozenset({Role.SERVICE, Role.ADMIN})
MAX_BODY = 16 * 1024
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
REGION = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
E164 = re.compile(r"^\+[1-9][0-9]{5,14}$")
RAW_ID = re.compile(r"^(4:\+[1-9][0-9]{5,14}|8:[a-z]+:[A-Za-z0-9_:.\-]{1,200})$")


class BadRequest(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def routes() -> list[Route]:
    return [
        Route("/api/recordings", create_recording, methods=["POST"]),
        Route("/api/recordings/{request_id}", get_recording, methods=["GET"]),
        Route("/api/recordings/{request_id}", stop_recording, methods=["DELETE"]),
        Route("/api/calls", place_call, methods=["POST"]),
    ]


def _requests(container: Container) -> RecordingRequests:
    assert container.recordings is not None, "bootstrap.build wires recording requests"
    return container.recordings.requests


def _caller(container: Container, request: Request) -> Caller:
    principal = _principal(container, request, REQUESTERS)
    return Caller(principal.key_id, sees_all=principal.role is Role.ADMIN)


async def _body(request: Request, allowed: set[str]) -> dict[str, Any]:
    try:
        raw = await read_body(request, MAX_BODY)
        body = json.loads(raw)
    except BodyTooLarge:
        raise BadRequest("body_too_large", f"the body must be at most {MAX_BODY} bytes") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise BadRequest("malformed_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("invalid_body", "the body must be a JSON object")
    unknown = set(body) - allowed
    if unknown:
        raise BadRequest("unknown_field", f"unknown fields: {', '.join(sorted(unknown))}")
    return body


def _text(body: dict[str, Any], name: str, pattern: re.Pattern[str] | None, max_length: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise BadRequest(
            "invalid_field", f"{name} must be a non-empty string of at most {max_length} characters"
        )
    if pattern is not None and not pattern.fullmatch(value):
        raise BadRequest("invalid_field", f"{name} is not in the expected format")
    return value


def _idempotency_key(request: Request) -> str:
    key = request.headers.get("idempotency-key")
    if key is None:
        return f"auto:{uuid.uuid4()}"  # no key, no replay protection: every POST is a new request
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise BadRequest("invalid_idempotency_key", "Idempotency-Key must be 1-255 visible ASCII characters")
    return key


def _fingerprint(path: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps({"path": path, **fields}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _respond(request: Request, work: Callable[[Request], Awaitable[Response]]) -> Response:
    try:
        return await work(request)
    except BadRequest as exc:
        return error(400, exc.code, str(exc))
    except ApiError as exc:
        return error(exc.status, exc.code, str(exc))
    except RequestError as exc:
        return error(exc.status, exc.code, str(exc))


async def create_recording(request: Request) -> Response:
    async def work(request: Request) -> Response:
        container: Container = request.app.state.container
        caller = await run_in_threadpool(_caller, container, request)
        body = await _body(request, {"server_call_id", "call_connection_id", "region", "external_reference"})
        fields = {
            "server_call_id": _text(body, "server_call_id", None, 1024),
            "call_connection_id": _text(body, "call_connection_id", None, 128),
            "region": _text(body, "region", REGION, 64),
            "external_reference": _text(body, "external_reference", None, 256),
        }
        if (fields["server_call_id"] is None) == (fields["call_connection_id"] is None):
            raise BadRequest("invalid_body", "give exactly one of server_call_id or call_connection_id")
        new = NewRequest(_idempotency_key(request), _fingerprint(request.url.path, fields), **fields)
        result, created = await run_in_threadpool(_requests(container).create, caller, new)
        return JSONResponse(result, status_code=202 if created else 200)

    return await _respond(request, work)


async def place_call(request: Request) -> Response:
    async def work(request: Request) -> Response:
        container: Container = request.app.state.container
        caller = await run_in_threadpool(_caller, container, request)
        body = await _body(request, {"target", "source_caller_id", "region", "external_reference"})
        target = _text(body, "target", RAW_ID, 256)
        if target is None:
            raise BadRequest("invalid_body", "target (an ACS raw id such as 4:+14255550123) is required")
        source = _text(body, "source_caller_id", E164, 16) or container.settings.outbound_caller_id
        if source is None and target.startswith("4:"):
            raise BadRequest(
                "missing_source_caller_id",
                "a phone target needs source_caller_id (or RECORDER_OUTBOUND_CALLER_ID configured)",
            )
        fields = {
            "target": target,
            "source_caller_id": source,
            "region": _text(body, "region", REGION, 64),
            "external_reference": _text(body, "external_reference", None, 256),
        }
        new = NewRequest(_idempotency_key(request), _fingerprint(request.url.path, fields), **fields)
        result, created = await run_in_threadpool(_requests(container).create, caller, new)
        return JSONResponse(result, status_code=202 if created else 200)

    return await _respond(request, work)


async def get_recording(request: Request) -> Response:
    async def work(request: Request) -> Response:
        container: Container = request.app.state.container
        caller = await run_in_threadpool(_caller, container, request)
        result = await run_in_threadpool(_requests(container).get, caller, request.path_params["request_id"])
        return JSONResponse(result)

    return await _respond(request, work)


async def stop_recording(request: Request) -> Response:
    async def work(request: Request) -> Response:
        container: Container = request.app.state.container
        caller = await run_in_threadpool(_caller, container, request)
        result = await run_in_threadpool(_requests(container).stop, caller, request.path_params["request_id"])
        return JSONResponse(result)

    return await _respond(request, work)
