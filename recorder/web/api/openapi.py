"""GET /api/openapi.json: built from the application's own route table and each API route's ``Spec`` (its
request and response models, ``api/models/``), so the document says what the routes validate and answer,
and cannot list a path that does not exist or miss one that does. The routes outside the API (webhooks,
health) are described in ``outside.py``."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from recorder.web.api import outside, roles
from recorder.web.api.models.base import Error
from recorder.web.api.routing import ApiRoute, Spec

DOCUMENTED_PREFIXES = ("/api/", "/webhooks/", "/healthz", "/readyz")
REF = "#/components/schemas/{model}"
API_SECURITY: list[dict[str, list[str]]] = [{"apiKey": []}, {"entraId": []}]
SECURITY_SCHEMES = {
    "apiKey": {"type": "http", "scheme": "bearer", "description": "an API key (`recorder keys create`)"},
    "entraId": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "an Entra ID access token whose app roles map to our roles, where configured",
    },
    **outside.SECURITY_SCHEMES,
}
COMMON_ERRORS = {
    401: "unauthorized: missing, invalid, revoked or expired key or token",
    403: "forbidden: the key's role may not do this",
    503: "database_unavailable or auth_unavailable: nothing was changed; retry (Retry-After)",
}
QUERY_ERROR = {400: "invalid_query: an unknown parameter, or a bad filter, cursor or limit"}
BODY_ERRORS = {
    400: "the body is not a JSON object of this shape: malformed_json, too_deep, invalid_body, "
    "invalid_field, unknown_field, or the field's own code",
    408: "body_timeout: the body did not arrive in time",
    413: "body_too_large",
}


def _api_routes(routes: list[Any]) -> list[ApiRoute]:
    return [r for r in routes if isinstance(r, ApiRoute)]


def _schemas(api: list[ApiRoute]) -> tuple[dict[tuple[type[BaseModel], str], Any], dict[str, Any]]:
    pairs: set[tuple[type[BaseModel], JsonSchemaMode]] = {(Error, "serialization")}
    for r in api:
        if r.spec.body is not None:
            pairs.add((r.spec.body, "validation"))
        pairs.update((model, "serialization") for model in r.spec.replies.values() if model is not None)
    ordered = sorted(pairs, key=lambda pair: (pair[0].__name__, pair[1]))
    refs, defs = models_json_schema(ordered, ref_template=REF)
    return {
        (model, mode): ref
        for (model, mode), ref in refs.items()
        if isinstance(model, type) and issubclass(model, BaseModel)
    }, defs.get("$defs", {})


def _query_parameters(spec: Spec) -> list[dict[str, Any]]:
    if spec.query is None:
        return []
    schema = spec.query.model_json_schema(ref_template=REF)
    parameters = []
    for name, prop in schema["properties"].items():
        branches = [b for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]
        value = {k: v for k, v in prop.items() if k not in ("anyOf", "title", "description", "default")}
        if prop.get("default") is not None:
            value["default"] = prop["default"]
        value.update(branches[0] if len(branches) == 1 else {"anyOf": branches})
        value.pop("title", None)
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": name in schema.get("required", []),
                "description": prop.get("description", name),
                "schema": value,
            }
        )
    return parameters


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _responses(spec: Spec, refs: dict[tuple[type[BaseModel], str], Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, model in spec.replies.items():
        answer: dict[str, Any] = {
            "description": "OK" if status == 200 else ("created" if status == 201 else "accepted")
        }
        if model is not None:
            answer["content"] = {"application/json": {"schema": refs[(model, "serialization")]}}
        if spec.media:
            answer["content"] = {
                media: {"schema": {"type": "string", "description": what}}
                for media, what in spec.media.items()
            }
        if spec.links:
            answer["links"] = {
                name: {"operationId": link.to, "parameters": dict(link.parameters)}
                for name, link in spec.links.items()
            }
        responses[str(status)] = answer
    errors = {**COMMON_ERRORS}
    if spec.query is not None:
        errors.update(QUERY_ERROR)
    if spec.body is not None:
        errors.update(BODY_ERRORS)
    for status, description in spec.errors.items():
        errors[status] = (
            f"{errors[status]}; {description}" if status in (400, 503) and status in errors else description
        )
    responses.update({str(status): _error(text) for status, text in sorted(errors.items())})
    return responses


def _operation(route: ApiRoute, refs: dict[tuple[type[BaseModel], str], Any]) -> dict[str, Any]:
    spec = route.spec
    who = roles.describe(roles.allowed(route.method, route.path))
    doc = (route.endpoint.__doc__ or route.name).strip()
    operation: dict[str, Any] = {
        "operationId": route.name,
        "summary": doc.splitlines()[0],
        "description": f"{doc}\n\nRoles: {who}.",
        "x-roles": who.split(", "),
        "security": API_SECURITY,
        "parameters": [*_path_parameters(route.path), *spec.headers, *_query_parameters(spec)],
        "responses": _responses(spec, refs),
    }
    if spec.body is not None:
        operation["requestBody"] = {
            "required": route.method == "POST",
            "content": {"application/json": {"schema": refs[(spec.body, "validation")]}},
        }
    return operation


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in re.findall(r"{(\w+)(?::\w+)?}", path)
    ]


def build(routes: list[Any]) -> dict[str, Any]:
    api = _api_routes(routes)
    refs, schemas = _schemas(api)
    paths: dict[str, dict[str, Any]] = {}
    for route in api:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs)
    for method, path, other in _other_operations(routes):
        operation = outside.OPERATIONS.get((method, path)) or outside.undocumented(other)
        paths.setdefault(path, {})[method] = {
            **operation,
            "parameters": [*_path_parameters(path), *operation.get("parameters", [])],
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "recorder",
            "version": "1",
            "description": "Consent-enforcing call recording for ACS",
        },
        "paths": paths,
        "components": {"securitySchemes": SECURITY_SCHEMES, "schemas": {**schemas, **outside.SCHEMAS}},
    }


def _other_operations(routes: list[Any]) -> list[tuple[str, str, Route]]:
    found: list[tuple[str, str, Route]] = []
    for route in routes:
        if isinstance(route, ApiRoute) or not isinstance(route, Route):
            continue
        if route.path.startswith(DOCUMENTED_PREFIXES):
            found.extend(
                (m.lower(), route.path, route) for m in sorted(route.methods or {"GET"}) if m != "HEAD"
            )
    return found


async def document(request: Request) -> Response:
    """Built once per application (and again if its route table changes)."""
    routes = list(request.app.routes)
    key = tuple(id(route) for route in routes)
    cached = getattr(request.app.state, "openapi", None)
    if cached is None or cached[0] != key:
        cached = (key, build(routes))
        request.app.state.openapi = cached
    return JSONResponse(cached[1])
