"""The compliance API: API-key auth, roles, the consent ledger, call timelines, audit verification."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from recorder.bootstrap import Container
from recorder.services import queries
from recorder.services.keys import Principal, Role, authenticate
from recorder.web.entra import EntraRejected, entra_principal, looks_like_jwt
from recorder.web.responses import error

READERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.AUDITOR})
OUTCOMES = frozenset({"granted", "declined", "no_response", "withdrawn", "exempt"})
MAX_LIMIT = 500


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def _principal(container: Container, request: Request, allowed: frozenset[Role]) -> Principal:
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
    else:
        with container.sessions() as session:
            principal = authenticate(session, token, container.clock())
    if principal is None:
        raise ApiError(401, "unauthorized", "the API key is invalid, revoked or expired")
    if principal.role not in allowed:
        audit_denied(container, request, principal)
        raise ApiError(403, "forbidden", f"role {principal.role} may not do this")
    return principal


def audit_denied(container: Container, request: Request, principal: Principal) -> None:
    """A refused attempt by a known principal is an access too: it goes into the chain."""
    with container.unit_of_work() as uow:
        data = {"role": principal.role, "method": request.method, "path": request.url.path}
        uow.audit.append(f"key:{principal.key_id}", "api.denied", None, data, container.clock())
        uow.commit()


def _audited_read(
    container: Container, request: Request, allowed: frozenset[Role], action: str, work: Callable[[Any], Any]
) -> Any:
    """Authenticate, run the read, and write who read what into the audit chain, in one transaction."""
    principal = _principal(container, request, allowed)
    with container.unit_of_work() as uow:
        while uow.audit.seal():  # an auditor reads every entry written so far, chained
            pass
        result = work(uow.session)
        uow.audit.append(
            f"key:{principal.key_id}",
            action,
            None,
            {"role": principal.role, "path": request.url.path, "query": str(request.url.query)},
            container.clock(),
        )
        uow.commit()
    return result


def _endpoint(handler: Callable[[Container, Request], Any]) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        container: Container = request.app.state.container
        try:
            result = await run_in_threadpool(handler, container, request)
        except ApiError as exc:
            return error(exc.status, exc.code, str(exc))
        except queries.BadQuery as exc:
            return error(400, "invalid_query", str(exc))
        return result if isinstance(result, Response) else JSONResponse(result)

    return endpoint


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise queries.BadQuery(f"{name} must be an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise queries.BadQuery(f"{name} must carry a time zone (e.g. Z)")
    return parsed


def _consents(container: Container, request: Request) -> Any:
    params = request.query_params
    unknown = set(params) - {
        "call_connection_id",
        "server_call_id",
        "participant",
        "outcome",
        "since",
        "until",
        "cursor",
        "limit",
    }
    if unknown:
        raise queries.BadQuery(f"unknown filters: {', '.join(sorted(unknown))}")
    outcome = params.get("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        raise queries.BadQuery(f"outcome must be one of {', '.join(sorted(OUTCOMES))}")
    limit_text = params.get("limit", "100")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
        raise queries.BadQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    ledger_filter = queries.LedgerFilter(
        call_connection_id=params.get("call_connection_id"),
        server_call_id=params.get("server_call_id"),
        participant=params.get("participant"),
        outcome=outcome,
        since=_time(params.get("since"), "since"),
        until=_time(params.get("until"), "until"),
    )
    cursor = params.get("cursor")
    return _audited_read(
        container,
        request,
        READERS,
        "api.consents.read",
        lambda s: queries.consents(s, ledger_filter, cursor, int(limit_text)),
    )


def _call(container: Container, request: Request) -> Any:
    connection_id = request.path_params["call_connection_id"]
    timeline = _audited_read(
        container, request, READERS, "api.call.read", lambda s: queries.call_timeline(s, connection_id)
    )
    if timeline is None:
        raise ApiError(404, "not_found", "no call with that call_connection_id")
    return timeline


def _verify(container: Container, request: Request) -> Any:
    from recorder.services import anchoring

    store = container.compliance.anchors
    result = _audited_read(
        container, request, READERS, "api.audit.verify", lambda s: anchoring.verify(s, store)
    )
    return result.as_json()


consents = _endpoint(_consents)
call = _endpoint(_call)
verify_audit = _endpoint(_verify)
