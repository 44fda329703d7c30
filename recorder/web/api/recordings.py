"""Recording on request, for call-center apps: POST/GET/DELETE /api/recordings and POST /api/calls.

Roles as in ``roles.py``: the service role acts on its own requests only; operators and admins on all.

Every input is checked (``models.writes``) before anything is written; a bad one is a 400 with a code
naming the problem.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from recorder.bootstrap import Container
from recorder.services.calls.recording_requests import Caller, NewRequest, RecordingRequests
from recorder.services.tokens.api_keys import Principal, Role
from recorder.web.api.models.writes import CreateRecording, PlaceCall, RecordingRequest
from recorder.web.api.routing import Answer, ApiError, Link, Spec, route

MAX_BODY = 16 * 1024
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
SEES_ALL = frozenset({Role.ADMIN, Role.OPERATOR, Role.AUDITOR})
IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "the same key and body return the same request; without one, every POST is a new request",
    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY.pattern, "minLength": 1, "maxLength": 255},
}
REQUEST_ID = {"request_id": "$response.body#/id"}
FOLLOW = {
    "GetRecording": Link("get_recording", REQUEST_ID),
    "StopRecording": Link("stop_recording", REQUEST_ID),
}
NO_REQUEST = {404: "no recording request with that id (or not one this key may see)"}


def _create_spec(body: type[CreateRecording | PlaceCall], errors: dict[int, str]) -> Spec:
    return Spec(
        {202: RecordingRequest, 200: RecordingRequest},
        body=body,
        body_limit=MAX_BODY,
        errors={409: "the Idempotency-Key was used with another body, or the call has ended", **errors},
        headers=(IDEMPOTENCY_HEADER,),
        links=FOLLOW,
    )


def routes() -> list[Route]:
    create = _create_spec(CreateRecording, {404: "unknown_call: the service handles no such call"})
    return [
        route("POST", "/api/recordings", _create_recording, create),
        route(
            "GET",
            "/api/recordings/{request_id}",
            _get_recording,
            Spec({200: RecordingRequest}, errors=NO_REQUEST),
        ),
        route(
            "DELETE",
            "/api/recordings/{request_id}",
            _stop_recording,
            Spec({200: RecordingRequest}, errors=NO_REQUEST),
        ),
        route("POST", "/api/calls", _place_call, _create_spec(PlaceCall, {})),
    ]


def _requests(container: Container) -> RecordingRequests:
    assert container.recordings is not None, "bootstrap.build wires recording requests"
    return container.recordings.requests


def _caller(principal: Principal) -> Caller:
    return Caller(principal.key_id, sees_all=principal.role in SEES_ALL)


def _idempotency_key(request: Request) -> str:
    key = request.headers.get("idempotency-key")
    if key is None:
        return f"auto:{uuid.uuid4()}"  # no key, no replay protection: every POST is a new request
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiError(
            400, "invalid_idempotency_key", "Idempotency-Key must be 1-255 visible ASCII characters"
        )
    return key


def _fingerprint(path: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps({"path": path, **fields}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _submit(container: Container, request: Request, principal: Principal, fields: dict[str, Any]) -> Answer:
    new = NewRequest(_idempotency_key(request), _fingerprint(request.url.path, fields), **fields)
    result, created = _requests(container).create(_caller(principal), new)
    return Answer(result, 202 if created else 200)


def _create_recording(
    container: Container, request: Request, principal: Principal, body: CreateRecording
) -> Any:
    """Ask for a call to be recorded once everyone consents: by server_call_id or call_connection_id."""
    return _submit(container, request, principal, body.model_dump())


def _place_call(container: Container, request: Request, principal: Principal, body: PlaceCall) -> Any:
    """Place an outbound call that goes through the consent flow."""
    source = body.source_caller_id or container.settings.outbound_caller_id
    if source is None and body.target.startswith("4:"):
        raise ApiError(
            400,
            "missing_source_caller_id",
            "a phone target needs source_caller_id (or RECORDER_OUTBOUND_CALLER_ID configured)",
        )
    fields = {**body.model_dump(), "source_caller_id": source}
    return _submit(container, request, principal, fields)


def _get_recording(container: Container, request: Request, principal: Principal, body: None) -> Any:
    """A recording request's state."""
    return _requests(container).get(_caller(principal), request.path_params["request_id"])


def _stop_recording(container: Container, request: Request, principal: Principal, body: None) -> Any:
    """Stop recording the request's call, for good."""
    return _requests(container).stop(_caller(principal), request.path_params["request_id"])
