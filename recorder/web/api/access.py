"""Access decisions over the API, each audited: which service keys may act on a call they did not start
(grants, by operators and admins), and which identities are the center's consent-exempt agents (admins)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from recorder.bootstrap import Container
from recorder.services.queries import registers
from recorder.services.tokens.api_keys import Principal
from recorder.web.api.models import writes
from recorder.web.api.routing import Answer, ApiError, Link, Spec, audited_read, route

BODY_LIMIT = 4096
CALL = "/api/calls/{call_connection_id}"
NO_CALL = "no call with that call_connection_id"
GRANT = Spec(
    {201: writes.Granted},
    body=writes.Grant,
    body_limit=BODY_LIMIT,
    errors={404: f"{NO_CALL}, or unknown_key: no API key with that id"},
    links={
        "RevokeCallAccess": Link(
            "revoke_call_access",
            {"call_connection_id": "$response.body#/call_connection_id", "key_id": "$response.body#/key_id"},
        )
    },
)
EXEMPT = Spec(
    {201: writes.Exemption},
    body=writes.Exempt,
    body_limit=BODY_LIMIT,
    links={"RemoveExemption": Link("remove_exemption", {"identity": "$response.body#/identity"})},
)
REVOKE_GRANT = Spec({200: writes.GrantRevoked}, errors={404: f"{NO_CALL}, or the key has no grant on it"})
REMOVE_EXEMPTION = Spec(
    {200: writes.ExemptionRemoved}, errors={404: "that identity is not registered as exempt"}
)


def routes() -> list[Route]:
    return [
        route("POST", f"{CALL}/grants", _grant_call_access, GRANT),
        route("DELETE", f"{CALL}/grants/{{key_id}}", _revoke_call_access, REVOKE_GRANT),
        route("GET", "/api/exemptions", _list_exemptions, Spec({200: writes.ExemptionList})),
        route("POST", "/api/exemptions", _add_exemption, EXEMPT),
        route("DELETE", "/api/exemptions/{identity}", _remove_exemption, REMOVE_EXEMPTION),
    ]


def _call_id(container: Container, request: Request) -> str:
    call_id = container.calls.id_for_connection(request.path_params["call_connection_id"])
    if call_id is None:
        raise ApiError(404, "not_found", NO_CALL)
    return call_id


def _grant_call_access(
    container: Container, request: Request, principal: Principal, body: writes.Grant
) -> Any:
    """Let a service key act on this call (attach recording requests, read their state, stop them)."""
    call_id = _call_id(container, request)
    granted = container.grants.grant(call_id, body.key_id, f"key:{principal.key_id}")
    connection_id = request.path_params["call_connection_id"]
    return Answer({"call_connection_id": connection_id, **granted}, 201)


def _revoke_call_access(container: Container, request: Request, principal: Principal, body: None) -> Any:
    """Take a service key's grant on this call away."""
    call_id, key_id = _call_id(container, request), request.path_params["key_id"]
    container.grants.revoke(call_id, key_id, f"key:{principal.key_id}")
    return {
        "call_connection_id": request.path_params["call_connection_id"],
        "key_id": key_id,
        "revoked": True,
    }


def _list_exemptions(container: Container, request: Request, principal: Principal, body: None) -> Any:
    """The identities registered as the center's consent-exempt agents."""
    items = audited_read(container, request, principal, "api.exemptions.read", registers.exemptions)
    return {"items": items}


def _add_exemption(container: Container, request: Request, principal: Principal, body: writes.Exempt) -> Any:
    """Register an identity as one of the center's agents: recorded exempt, never prompted, when it joins."""
    result = container.agents.register(body.identity, body.reason, f"key:{principal.key_id}")
    return Answer(result, 201)


def _remove_exemption(container: Container, request: Request, principal: Principal, body: None) -> Any:
    """Remove an agent's exemption: prompted for consent like anyone else from its next join."""
    identity = request.path_params["identity"]
    container.agents.unregister(identity, f"key:{principal.key_id}")
    return {"identity": identity, "removed": True}
