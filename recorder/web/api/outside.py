"""The OpenAPI description of the routes outside the API proper: Event Grid and ACS webhooks, health, and
the document and its rendered reference themselves. Their handlers live elsewhere (``web/webhooks/``,
``web/app.py``); what they answer is written down here."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from recorder.web.api.docs import ASSETS

SECURITY_SCHEMES = {
    "eventGridSecret": {
        "type": "apiKey",
        "in": "query",
        "name": "secret",
        "description": "RECORDER_EVENTGRID_SECRET, as the Event Grid subscription's endpoint carries it",
    },
    "acsCallback": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "the JWT ACS signs each callback with (issuer, audience = ACS resource id, expiry)",
    },
}
ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
SCHEMAS: dict[str, Any] = {
    "Readiness": {
        "type": "object",
        "required": ["ready", "checks"],
        "properties": {
            "ready": {"type": "boolean"},
            "checks": {"type": "object", "additionalProperties": {"type": "boolean"}},
            "reasons": {"type": "object", "additionalProperties": {"type": "string"}},
            "outbox": {
                "type": "object",
                "properties": {"depth": {"type": "number"}, "oldest_pending_age_seconds": {"type": "number"}},
            },
        },
    },
    "EventGridAnswer": {
        "oneOf": [
            {
                "type": "object",
                "required": ["accepted", "ignored"],
                "properties": {"accepted": {"type": "integer"}, "ignored": {"type": "integer"}},
                "additionalProperties": False,
            },
            {
                "type": "object",
                "required": ["validationResponse"],
                "properties": {"validationResponse": {"type": "string"}},
                "additionalProperties": False,
            },
        ]
    },
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": ERROR}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


EVENTS = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "description": "one event or a batch",
                "anyOf": [{"type": "array", "items": {"type": "object"}}, {"type": "object"}],
            }
        },
        "application/cloudevents+json": {"schema": {"type": "object"}},
        "application/cloudevents-batch+json": {"schema": {"type": "array", "items": {"type": "object"}}},
    },
}
DELIVERY_ERRORS = {
    "400": _error(
        "malformed_json, too_deep, too_many_events, invalid_event, invalid_time, ...: nothing stored"
    ),
    "401": _error("unauthorized: nothing stored"),
    "413": _error("body_too_large"),
    "503": _error("draining or auth_unavailable: retry elsewhere or later"),
}
PUBLIC: list[dict[str, list[str]]] = []
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/healthz"): {
        "operationId": "healthz",
        "summary": "The process is alive",
        "security": PUBLIC,
        "responses": {
            "200": _json("alive", {"type": "object", "properties": {"status": {"const": "ok"}}}),
        },
    },
    ("get", "/readyz"): {
        "operationId": "readyz",
        "summary": "The database and configuration are usable and the dispatcher runs",
        "security": PUBLIC,
        "responses": {
            "200": _json("ready", {"$ref": "#/components/schemas/Readiness"}),
            "503": _json("not ready (or draining)", {"$ref": "#/components/schemas/Readiness"}),
        },
    },
    ("post", "/webhooks/eventgrid"): {
        "operationId": "eventgrid",
        "summary": "Event Grid deliveries: IncomingCall, RecordingFileStatusUpdated, validation handshakes",
        "security": [{"eventGridSecret": []}],
        "requestBody": EVENTS,
        "responses": {
            "200": _json("accepted", {"$ref": "#/components/schemas/EventGridAnswer"}),
            **DELIVERY_ERRORS,
        },
    },
    ("options", "/webhooks/eventgrid"): {
        "operationId": "eventgrid_handshake",
        "summary": "CloudEvents abuse-protection handshake",
        "security": [{"eventGridSecret": []}],
        "parameters": [
            {"name": "WebHook-Request-Origin", "in": "header", "required": True, "schema": {"type": "string"}}
        ],
        "responses": {
            "200": {
                "description": "allowed",
                "headers": {"WebHook-Allowed-Origin": {"schema": {"type": "string"}}},
            },
            "400": _error("missing_origin"),
            "401": _error("unauthorized"),
        },
    },
    ("post", "/webhooks/acs/{call_id}"): {
        "operationId": "acs_callback",
        "summary": "ACS Call Automation callbacks for one call (the callbackUri the service gave ACS)",
        "security": [{"acsCallback": []}],
        "requestBody": EVENTS,
        "responses": {
            "200": _json(
                "applied (counts by outcome: applied, duplicate, unknown_call, ignored)",
                {"type": "object", "properties": {"outcomes": {"type": "object"}}, "required": ["outcomes"]},
            ),
            **DELIVERY_ERRORS,
            "403": _error("call_mismatch or replayed"),
        },
    },
    ("get", "/api/openapi.json"): {
        "operationId": "openapi",
        "summary": "This document",
        "security": PUBLIC,
        "responses": {"200": _json("the OpenAPI 3.1 document", {"type": "object"})},
    },
    ("get", "/api/docs"): {
        "operationId": "docs",
        "summary": "This document, rendered (served from the package: no CDN)",
        "security": PUBLIC,
        "responses": {
            "200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}
        },
    },
    ("get", "/api/docs/{asset}"): {
        "operationId": "docs_asset",
        "summary": "The renderer's files, shipped in the package",
        "security": PUBLIC,
        "responses": {
            "200": {
                "description": "the file",
                "content": {media.split(";")[0]: {"schema": {"type": "string"}} for media in ASSETS.values()},
            },
            "404": _error("no such file"),
        },
    },
}


def undocumented(route: Route) -> dict[str, Any]:
    """A route nobody described yet: listed all the same (a test requires every route to be described)."""
    summary = (route.endpoint.__doc__ or route.name or route.path).strip().splitlines()[0]
    return {"summary": summary, "responses": {"default": {"description": "not described yet"}}}
