"""GET /api/openapi.json: built from the application's own route table, so it cannot list a path that does
not exist or miss one that does; the operations below add parameters, bodies and responses."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from recorder.web.api import roles

DOCUMENTED_PREFIXES = ("/api/", "/webhooks/", "/healthz", "/readyz")
ERROR = {"$ref": "#/components/schemas/Error"}
JSON_ERROR = {"application/json": {"schema": ERROR}}
AUTH_ERRORS = {
    "401": {"description": "missing, invalid, revoked or expired key or token", "content": JSON_ERROR},
    "403": {"description": "the key's role may not do this", "content": JSON_ERROR},
}


def _q(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


LEDGER_PARAMS = [
    _q("call_connection_id", "one call's connection id"),
    _q("server_call_id", "one call's server call id"),
    _q("participant", "an ACS raw id such as 4:+14255550123"),
    _q("outcome", "granted, declined, no_response, withdrawn or exempt"),
    _q("since", "decided at or after (ISO 8601 with zone)", {"type": "string", "format": "date-time"}),
    _q("until", "decided before (ISO 8601 with zone)", {"type": "string", "format": "date-time"}),
]
PAGE_PARAMS = [
    _q("cursor", "the `next` of the previous page"),
    _q("limit", "1 to 500, default 100", {"type": "integer"}),
]


def _op(summary: str, **extra: Any) -> dict[str, Any]:
    responses = {"200": {"description": "OK"}, **AUTH_ERRORS, **extra.pop("responses", {})}
    return {"summary": summary, "security": [{"bearer": []}], "responses": responses, **extra}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


NOT_FOUND = {"404": {"description": "no such call", "content": {"application/json": {"schema": ERROR}}}}
BAD_QUERY = {
    "400": {"description": "bad filter, cursor or limit", "content": {"application/json": {"schema": ERROR}}}
}
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/api/consents"): _op(
        "The consent ledger, stable order, cursor pages",
        parameters=LEDGER_PARAMS + PAGE_PARAMS,
        responses=BAD_QUERY,
    ),
    ("get", "/api/consents/export"): _op(
        "The filtered ledger as a streamed CSV or JSON Lines download",
        parameters=[*LEDGER_PARAMS, _q("format", "csv (default) or jsonl")],
        responses=BAD_QUERY,
    ),
    ("get", "/api/calls"): _op(
        "Search calls by time, participant, outcome, recorded or not",
        parameters=[
            _q("since", "created at or after", {"type": "string", "format": "date-time"}),
            _q("until", "created before", {"type": "string", "format": "date-time"}),
            _q("participant", "an ACS raw id"),
            _q("outcome", "a ledger outcome any participant had"),
            _q("recorded", "true or false", {"type": "boolean"}),
            *PAGE_PARAMS,
        ],
        responses=BAD_QUERY,
    ),
    ("get", "/api/calls/{call_connection_id}"): _op("One call's timeline", responses=NOT_FOUND),
    ("get", "/api/calls/{call_connection_id}/evidence"): _op(
        "Evidence bundle: ledger, prompts, segments, recordings, audit entries with canonical content",
        responses=NOT_FOUND,
    ),
    ("post", "/api/calls/{call_connection_id}/legal-hold"): _op(
        "Place a legal hold (also on the Blob recordings where supported)",
        requestBody=_body({"reason": {"type": "string"}}, ["reason"]),
        responses={"201": {"description": "held"}, **NOT_FOUND, "409": {"description": "already on hold"}},
    ),
    ("delete", "/api/calls/{call_connection_id}/legal-hold"): _op(
        "Release the legal hold",
        responses={**NOT_FOUND, "409": {"description": "not on hold"}},
    ),
    ("post", "/api/erasures"): _op(
        "Erase a participant: pseudonymised ledger, hash-only audit tombstones; refused while on legal hold",
        requestBody=_body({"participant": {"type": "string"}, "force": {"type": "boolean"}}, ["participant"]),
        responses={
            "403": {
                "description": "the key's role may not do this, or may not force (admin only)",
                "content": {"application/json": {"schema": ERROR}},
            },
            "404": {
                "description": "unknown_participant: no data held for this participant (admin may force)",
                "content": {"application/json": {"schema": ERROR}},
            },
            "409": {
                "description": "a call of the participant is on legal hold",
                "content": {"application/json": {"schema": ERROR}},
            },
        },
    ),
    ("get", "/api/audit/verify"): _op("Recompute the audit chain and compare it with its anchors"),
    ("get", "/api/keys"): _op("List API keys (never the keys themselves)"),
    ("post", "/api/keys"): _op(
        "Create an API key; the key is in this response only",
        requestBody=_body(
            {
                "role": {"type": "string", "enum": ["admin", "operator", "auditor", "service"]},
                "name": {"type": "string"},
                "expires_in_days": {"type": "integer"},
            },
            ["role", "name"],
        ),
        responses={"201": {"description": "created"}},
    ),
    ("delete", "/api/keys/{key_id}"): _op(
        "Revoke an API key", responses={"404": {"description": "no such key"}}
    ),
}


def _route_operations(routes: list[Any]) -> list[tuple[str, str, Route]]:
    found = []
    for route in routes:
        if not isinstance(route, Route) or not route.path.startswith(DOCUMENTED_PREFIXES):
            continue
        for method in sorted(route.methods or {"GET"}):
            if method != "HEAD":
                found.append((method.lower(), route.path, route))
    return found


def build(routes: list[Any]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path, route in _route_operations(routes):
        operation = OPERATIONS.get((method, path))
        allowed = roles.ROUTE_ROLES.get((method.upper(), path))
        summary = (route.endpoint.__doc__ or route.name or path).strip().splitlines()[0]
        if operation is None and allowed is not None:
            operation = _op(summary)
        elif operation is None:
            operation = {"summary": summary, "responses": {"default": {"description": "see the README"}}}
        if allowed is not None:
            who = roles.describe(allowed)
            operation = {**operation, "description": f"Roles: {who}.", "x-roles": who.split(", ")}
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)(?::\w+)?}", path)
        ]
        if parameters:
            operation = {**operation, "parameters": parameters + operation.get("parameters", [])}
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "recorder",
            "version": "1",
            "description": "Consent-enforcing call recording for ACS",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "API key or Entra ID token"}
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                        }
                    },
                }
            },
        },
    }


async def document(request: Request) -> Response:
    return JSONResponse(build(list(request.app.routes)))
