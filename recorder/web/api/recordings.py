"""Recording on request, for call-center apps: POST/GET/DELETE /api/recordings and POST /api/calls.

Roles as in ``roles.py``: the service role acts on its own requests only; operators and admins on all.

Every input is checked before anything is written; a bad one is a 400 with a code naming the problem.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from recorder.bootstrap import Container
from recorder.services.calls.recording_requests import Caller, NewRequest, RecordingRequests
from recorder.services.tokens.api_keys import Principal, Role
from recorder.web.api.ledger import ApiError, route

MAX_BODY = 16 * 1024
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
REGION = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
E164 = re.compile(r"^\+[1-9][0-9]{5,14}$")
RAW_ID = re.compile(r"^(4:\+[1-9][0-9]{5,14}|8:[a-z]+:[A-Za-z0-9_:.\-]{1,200})$")
SEES_ALL = frozenset({Role.ADMIN, Role.OPERATOR, Role.AUDITOR})


def routes() -> list[Route]:
    return [
        route("POST", "/api/recordings", _create_recording, body_limit=MAX_BODY),
        route("GET", "/api/recordings/{request_id}", _get_recording),
        route("DELETE", "/api/recordings/{request_id}", _stop_recording),
        route("POST", "/api/calls", _place_call, body_limit=MAX_BODY),
    ]


def _requests(container: Container) -> RecordingRequests:
    assert container.recordings is not None, "bootstrap.build wires recording requests"
    return container.recordings.requests


def _caller(principal: Principal) -> Caller:
    return Caller(principal.key_id, sees_all=principal.role in SEES_ALL)


def _fields(body: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    unknown = set(body) - allowed
    if unknown:
        raise ApiError(400, "unknown_field", f"unknown fields: {', '.join(sorted(unknown))}")
    return body


def _text(body: dict[str, Any], name: str, pattern: re.Pattern[str] | None, max_length: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise ApiError(
            400, "invalid_field", f"{name} must be a non-empty string of at most {max_length} characters"
        )
    if pattern is not None and not pattern.fullmatch(value):
        raise ApiError(400, "invalid_field", f"{name} is not in the expected format")
    return value


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


def _create_recording(
    container: Container, request: Request, principal: Principal, body: dict[str, Any]
) -> Any:
    """Ask for a call to be recorded once everyone consents: by server_call_id or call_connection_id."""
    body = _fields(body, {"server_call_id", "call_connection_id", "region", "external_reference"})
    fields = {
        "server_call_id": _text(body, "server_call_id", None, 1024),
        "call_connection_id": _text(body, "call_connection_id", None, 128),
        "region": _text(body, "region", REGION, 64),
        "external_reference": _text(body, "external_reference", None, 256),
    }
    if (fields["server_call_id"] is None) == (fields["call_connection_id"] is None):
        raise ApiError(400, "invalid_body", "give exactly one of server_call_id or call_connection_id")
    new = NewRequest(_idempotency_key(request), _fingerprint(request.url.path, fields), **fields)
    result, created = _requests(container).create(_caller(principal), new)
    return JSONResponse(result, status_code=202 if created else 200)


def _place_call(container: Container, request: Request, principal: Principal, body: dict[str, Any]) -> Any:
    """Place an outbound call that goes through the consent flow."""
    body = _fields(body, {"target", "source_caller_id", "region", "external_reference"})
    target = _text(body, "target", RAW_ID, 256)
    if target is None:
        raise ApiError(400, "invalid_body", "target (an ACS raw id such as 4:+14255550123) is required")
    source = _text(body, "source_caller_id", E164, 16) or container.settings.outbound_caller_id
    if source is None and target.startswith("4:"):
        raise ApiError(
            400,
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
    result, created = _requests(container).create(_caller(principal), new)
    return JSONResponse(result, status_code=202 if created else 200)


def _get_recording(container: Container, request: Request, principal: Principal, body: dict[str, Any]) -> Any:
    """A recording request's state."""
    return _requests(container).get(_caller(principal), request.path_params["request_id"])


def _stop_recording(
    container: Container, request: Request, principal: Principal, body: dict[str, Any]
) -> Any:
    """Stop recording the request's call, for good."""
    return _requests(container).stop(_caller(principal), request.path_params["request_id"])
