"""The compliance API: API-key auth, roles, the consent ledger, call timelines, audit verification.

Every API route is made with ``route``: it authenticates the caller and checks the role (``roles.py``)
before a byte of the body is read, then parses the body, then runs the handler; refusals are 4xx.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from recorder.adapters.callback_auth import KeysUnavailable
from recorder.bootstrap import Container
from recorder.services.errors import ServiceError
from recorder.services.queries import ledger as queries
from recorder.services.queries import numbers
from recorder.services.tokens.api_keys import Principal, Role
from recorder.web.api import bodies, query_params, roles
from recorder.web.api.entra import EntraRejected, entra_principal, looks_like_jwt
from recorder.web.errors import ApiError, error_response

__all__ = ["READERS", "ApiError", "Handler", "audited_read", "authorize", "route"]

READERS = roles.READ  # who may use the console
Handler = Callable[[Container, Request, Principal, dict[str, Any]], Any]


def authorize(container: Container, request: Request, allowed: frozenset[Role]) -> Principal:
    header = request.headers.get("authorization", "")
    if not header.startswith("Bearer ") or not header[7:].strip():
        raise ApiError(401, "unauthorized", "an API key is required: Authorization: Bearer <key>")
    token = header[7:].strip()
    entra, entra_settings = container.compliance.entra, container.settings.entra
    if entra is not None and entra_settings is not None and looks_like_jwt(token):
        try:
            principal: Principal | None = entra_principal(entra, entra_settings.roles, token)
        except EntraRejected as exc:
            raise ApiError(
                exc.status, "unauthorized" if exc.status == 401 else "forbidden", str(exc)
            ) from None
        except KeysUnavailable:
            raise ApiError(503, "auth_unavailable", "the token cannot be verified right now; retry") from None
    else:
        principal = container.keys.authenticate(token)
    if principal is None:
        raise ApiError(401, "unauthorized", "the API key is invalid, revoked or expired")
    if principal.role not in allowed:
        audit_denied(container, request, principal)
        raise ApiError(403, "forbidden", f"role {principal.role} may not do this")
    return principal


def audit_denied(container: Container, request: Request, principal: Principal) -> None:
    """A refused attempt by a known principal is an access too: it goes into the chain."""
    details = {"role": principal.role, "method": request.method, "path": request.url.path}
    container.access_log.denied(f"key:{principal.key_id}", details)


def audited_read(
    container: Container, request: Request, principal: Principal, action: str, work: Callable[[Any], Any]
) -> Any:
    """Run the read and write who read what into the audit chain, in one transaction."""
    details = {"role": principal.role, "path": request.url.path, "query": str(request.url.query)}
    return container.access_log.read(f"key:{principal.key_id}", action, details, work)


def route(method: str, path: str, handler: Handler, *, body_limit: int | None = None) -> Route:
    """An API route: authenticate and authorize (roles.py), then read the body (if ``body_limit``), then
    run ``handler`` in the thread pool. Refusals (``ServiceError``, ``ApiError`` too) answer as
    ``web/errors.py`` maps them."""
    allowed = roles.allowed(method, path)

    async def endpoint(request: Request) -> Response:
        container: Container = request.app.state.container
        try:
            principal = await run_in_threadpool(authorize, container, request, allowed)
            body = await bodies.json_object(request, body_limit) if body_limit is not None else {}
            result = await run_in_threadpool(handler, container, request, principal, body)
        except ServiceError as exc:  # the services' refusals and the web's own (ApiError)
            return error_response(exc)
        return result if isinstance(result, Response) else JSONResponse(result)

    endpoint.__doc__ = handler.__doc__
    return Route(path, endpoint, methods=[method], name=handler.__name__.strip("_"))


LEDGER_PARAMS = {"call_connection_id", "server_call_id", "participant", "outcome", "since", "until"}


def ledger_filter(params: Any, region: str | None) -> queries.LedgerFilter:
    return queries.LedgerFilter(
        call_connection_id=params.get("call_connection_id"),
        server_call_id=params.get("server_call_id"),
        participant=participant(params, region),
        outcome=query_params.outcome(params.get("outcome")),
        since=query_params.moment(params.get("since"), "since"),
        until=query_params.moment(params.get("until"), "until"),
    )


def participant(params: Any, region: str | None) -> str | None:
    """The raw id a typed ``participant`` names (``services/queries/numbers.py``), national numbers read in
    ``region`` (``[console] default_region``); 400 if it cannot be one."""
    text = params.get("participant")
    return None if text is None else numbers.canonical(text, region)


def _consents(container: Container, request: Request, principal: Principal, body: dict[str, Any]) -> Any:
    """The consent ledger, stable order, cursor pages."""
    params = request.query_params
    query_params.only(params, {*LEDGER_PARAMS, "cursor", "limit"})
    filters = ledger_filter(params, container.settings.default_region)
    limit, cursor = query_params.limit(params), params.get("cursor")
    if cursor:
        queries.decode_cursor(cursor)  # a bad cursor is a 400 before anything is audited
    return audited_read(
        container,
        request,
        principal,
        "api.consents.read",
        lambda s: queries.consents(s, filters, cursor, limit),
    )


def _call(container: Container, request: Request, principal: Principal, body: dict[str, Any]) -> Any:
    """One call's timeline."""
    connection_id = request.path_params["call_connection_id"]
    timeline = audited_read(
        container, request, principal, "api.call.read", lambda s: queries.call_timeline(s, connection_id)
    )
    if timeline is None:
        raise ApiError(404, "not_found", "no call with that call_connection_id")
    return timeline


def _verify(container: Container, request: Request, principal: Principal, body: dict[str, Any]) -> Any:
    """Recompute the audit chain and compare it with its anchors."""
    from recorder.services.compliance import anchoring

    store = container.compliance.anchors
    result = audited_read(
        container, request, principal, "api.audit.verify", lambda s: anchoring.verify(s, store)
    )
    return result.as_json()


def routes() -> list[Route]:
    return [
        route("GET", "/api/consents", _consents),
        route("GET", "/api/calls/{call_connection_id}", _call),
        route("GET", "/api/audit/verify", _verify),
    ]
