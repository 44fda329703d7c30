"""Access decisions over the API, each audited: which service keys may act on a call they did not start
(grants, by operators and admins), and which identities are the center's consent-exempt agents (admins)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from recorder.bootstrap import Container
from recorder.services.calls import agents
from recorder.services.tokens.api_keys import Principal
from recorder.web.api.ledger import ApiError, audited_read, route

BODY_LIMIT = 4096
CALL = "/api/calls/{call_connection_id}"


def routes() -> list[Route]:
    return [
        route("POST", f"{CALL}/grants", _grant, body_limit=BODY_LIMIT),
        route("DELETE", f"{CALL}/grants/{{key_id}}", _revoke_grant),
        route("GET", "/api/exemptions", _list_exemptions),
        route("POST", "/api/exemptions", _exempt, body_limit=BODY_LIMIT),
        route("DELETE", "/api/exemptions/{identity}", _remove_exemption),
    ]


def _call_id(container: Container, request: Request) -> str:
    call_id = container.calls.id_for_connection(request.path_params["call_connection_id"])
    if call_id is None:
        raise ApiError(404, "not_found", "no call with that call_connection_id")
    return call_id


def _grant(container: Container, request: Request, principal: Principal, body: dict[str, Any]) -> Any:
    """Let a service key act on this call (attach recording requests, read their state, stop them)."""
    key_id = body.get("key_id")
    if not isinstance(key_id, str) or not 1 <= len(key_id) <= 160:
        raise ApiError(400, "invalid_body", "key_id must be the id of an API key")
    call_id = _call_id(container, request)
    granted = container.grants.grant(call_id, key_id, f"key:{principal.key_id}")
    connection_id = request.path_params["call_connection_id"]
    return JSONResponse({"call_connection_id": connection_id, **granted}, status_code=201)


def _revoke_grant(container: Container, request: Request, principal: Principal, body: dict[str, Any]) -> Any:
    """Take a service key's grant on this call away."""
    call_id, key_id = _call_id(container, request), request.path_params["key_id"]
    container.grants.revoke(call_id, key_id, f"key:{principal.key_id}")
    return {
        "call_connection_id": request.path_params["call_connection_id"],
        "key_id": key_id,
        "revoked": True,
    }


def _list_exemptions(
    container: Container, request: Request, principal: Principal, body: dict[str, Any]
) -> Any:
    """The identities registered as the center's consent-exempt agents."""
    items = audited_read(container, request, principal, "api.exemptions.read", agents.list_exemptions)
    return {"items": items}


def _exempt(container: Container, request: Request, principal: Principal, body: dict[str, Any]) -> Any:
    """Register an identity as one of the center's agents: recorded exempt, never prompted, when it joins."""
    result = container.agents.register(body.get("identity"), body.get("reason"), f"key:{principal.key_id}")
    return JSONResponse(result, status_code=201)


def _remove_exemption(
    container: Container, request: Request, principal: Principal, body: dict[str, Any]
) -> Any:
    """Remove an agent's exemption: prompted for consent like anyone else from its next join."""
    identity = request.path_params["identity"]
    container.agents.unregister(identity, f"key:{principal.key_id}")
    return {"identity": identity, "removed": True}
