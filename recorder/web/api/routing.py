"""How every API route is made: authenticate and authorize (``roles.py``) before a byte of the body is read,
then validate the query string or the body with the route's model, run the handler in the thread pool and
shape its answer with the route's response model. The same ``Spec`` is what ``openapi.py`` documents, so the
document cannot say what the route does not do."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from recorder.adapters.callback_auth import KeysUnavailable
from recorder.bootstrap import Container
from recorder.services.errors import ServiceError
from recorder.services.tokens.api_keys import Principal, Role
from recorder.web.api import bodies, roles
from recorder.web.api.entra import EntraRejected, entra_principal, looks_like_jwt
from recorder.web.api.models.base import Body, Query
from recorder.web.errors import ApiError, error_response

__all__ = ["Answer", "ApiError", "ApiRoute", "Handler", "Link", "Spec", "audited_read", "authorize", "route"]

Handler = Callable[[Container, Request, Principal, Any], Any]


@dataclass(frozen=True)
class Link:
    """An OpenAPI link from a response to the operation ``to``: its parameters from this exchange."""

    to: str
    parameters: Mapping[str, str]


@dataclass(frozen=True)
class Spec:
    """What a route takes and answers. ``replies``: each success status and its body (the first is the
    usual one); ``errors``: the refusals particular to the route (401, 403 and 503 apply to all, 400 to every
    route with a query or body model, 408 and 413 to every route with a body)."""

    replies: Mapping[int, type[BaseModel] | None]
    query: type[Query] | None = None
    body: type[Body] | None = None
    body_limit: int = 0
    errors: Mapping[int, str] = field(default_factory=dict)
    headers: tuple[Mapping[str, Any], ...] = ()
    links: Mapping[str, Link] = field(default_factory=dict)
    media: Mapping[str, str] = field(default_factory=dict)  # a non-JSON success body: content type → what


@dataclass(frozen=True)
class Answer:
    """A handler's answer when it is not the usual status, or carries headers."""

    data: Any
    status: int
    headers: Mapping[str, str] | None = None


class ApiRoute(Route):
    def __init__(self, path: str, endpoint: Callable[..., Any], method: str, name: str, spec: Spec) -> None:
        super().__init__(path, endpoint, methods=[method], name=name)
        self.spec = spec
        self.method = method


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


Filters = TypeVar("Filters")


@dataclass(frozen=True)
class CursorPages(Generic[Filters]):
    """A read in cursor pages: a bad cursor is a 400 before anything is audited, then the page is read."""

    action: str
    check_cursor: Callable[[str], object]
    page: Callable[[Any, Filters, str | None, int], Any]  # (session, filters, cursor, limit)

    def read(
        self,
        container: Container,
        request: Request,
        principal: Principal,
        filters: Filters,
        cursor: str | None,
        limit: int,
    ) -> Any:
        if cursor:
            self.check_cursor(cursor)
        return audited_read(
            container, request, principal, self.action, lambda s: self.page(s, filters, cursor, limit)
        )


async def _given(request: Request, spec: Spec) -> Any:
    """The validated query string or body (a 4xx ``ServiceError`` when it is not acceptable)."""
    if spec.query is not None:
        return spec.query.parse(dict(request.query_params))
    if spec.body is not None:
        return spec.body.parse(await bodies.json_object(request, spec.body_limit))
    return None


def shape(spec: Spec, result: Any) -> Response:
    """The handler's result as the response its spec documents: the body through the status's model."""
    if isinstance(result, Response):
        return result
    answer = result if isinstance(result, Answer) else Answer(result, next(iter(spec.replies)))
    model = spec.replies[answer.status]
    data = answer.data
    if model is not None:
        checked = data if isinstance(data, model) else model.model_validate(data, extra="ignore")
        data = checked.model_dump(mode="json")
    return JSONResponse(data, status_code=answer.status, headers=answer.headers and dict(answer.headers))


def route(method: str, path: str, handler: Handler, spec: Spec) -> ApiRoute:
    """An API route (see the module's docstring); refusals answer as ``web/errors.py`` maps them."""
    allowed = roles.allowed(method, path)

    async def endpoint(request: Request) -> Response:
        container: Container = request.app.state.container
        try:
            principal = await run_in_threadpool(authorize, container, request, allowed)
            given = await _given(request, spec)
            result = await run_in_threadpool(handler, container, request, principal, given)
        except ServiceError as exc:  # the services' refusals and the web's own (ApiError)
            return error_response(exc)
        return shape(spec, result)

    endpoint.__doc__ = handler.__doc__
    return ApiRoute(path, endpoint, method, handler.__name__.strip("_"), spec)
