"""``POST /api/tokens`` (role service) and ``POST /api/tokens/revoke`` (role operator or admin).

Responses that carry a token say ``Cache-Control: no-store`` so no proxy or browser cache keeps it.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from recorder.bootstrap import Container
from recorder.services.keys import Role
from recorder.services.tokens import TokenError, check_identity, check_user_id
from recorder.web.api import ApiError, _principal
from recorder.web.responses import BodyTooLarge, error, read_body

ISSUERS = frozenset({Role.SERVICE})
REVOKERS = frozenset({Role.OPERATOR, Role.ADMIN})
MAX_BODY = 4096
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def routes() -> list[Route]:
    return [
        Route("/api/tokens", issue, methods=["POST"]),
        Route("/api/tokens/revoke", revoke, methods=["POST"]),
    ]


async def issue(request: Request) -> Response:
    container: Container = request.app.state.container
    try:
        principal = await run_in_threadpool(_principal, container, request, ISSUERS)
        fields = await _json_object(request)
        user_id = check_user_id(fields.get("user_id"))
        issued = await run_in_threadpool(container.tokens.issue, user_id, f"key:{principal.key_id}")
    except (ApiError, TokenError) as exc:
        return error(exc.status, exc.code, str(exc))
    body = {
        "token": issued.token,
        "expires_on": issued.expires_on.isoformat().replace("+00:00", "Z"),
        "identity": issued.identity,
    }
    return JSONResponse(body, headers=NO_STORE)


async def revoke(request: Request) -> Response:
    container: Container = request.app.state.container
    try:
        principal = await run_in_threadpool(_principal, container, request, REVOKERS)
        fields = await _json_object(request)
        identity = check_identity(fields.get("identity"))
        await run_in_threadpool(container.tokens.revoke, identity, f"key:{principal.key_id}")
    except (ApiError, TokenError) as exc:
        return error(exc.status, exc.code, str(exc))
    return JSONResponse({"identity": identity, "revoked": True})


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = await read_body(request, MAX_BODY)
    except BodyTooLarge:
        raise ApiError(413, "body_too_large", f"the body must be at most {MAX_BODY} bytes") from None
    try:
        parsed = json.loads(body)
    except ValueError:
        raise ApiError(400, "invalid_json", "the body must be a JSON object") from None
    if not isinstance(parsed, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return parsed
