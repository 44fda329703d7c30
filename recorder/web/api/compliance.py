"""Compliance API beyond the ledger page: call search, export, evidence, legal holds, erasure, API keys."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from recorder.bootstrap import Container
from recorder.services.queries import compliance as cq
from recorder.services.queries import ledger as queries
from recorder.services.tokens import api_keys as keys
from recorder.services.tokens.api_keys import Principal, Role
from recorder.web.api import openapi, query_params
from recorder.web.api.exports import export_response
from recorder.web.api.ledger import LEDGER_PARAMS, ApiError, audited_read, ledger_filter, participant, route

BODY_LIMIT = 64 * 1024


def _text(body: dict[str, Any], name: str, *, required: bool = True, max_len: int = 512) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise ApiError(
            400, "invalid_body", f"{name} must be a non-empty string of at most {max_len} characters"
        )
    return value.strip()


def _search_calls(container: Container, request: Request, principal: Principal, body: dict[str, Any]) -> Any:
    """Search calls by time, participant, outcome, recorded or not."""
    params = request.query_params
    query_params.only(params, {"since", "until", "participant", "outcome", "recorded", "cursor", "limit"})
    recorded = params.get("recorded")
    if recorded not in (None, "true", "false"):
        raise queries.BadQuery("recorded must be true or false")
    call_filter = cq.CallFilter(
        since=query_params.moment(params.get("since"), "since"),
        until=query_params.moment(params.get("until"), "until"),
        participant=participant(params, container.settings.default_region),
        outcome=query_params.outcome(params.get("outcome")),
        recorded=None if recorded is None else recorded == "true",
    )
    limit, cursor = query_params.limit(params), params.get("cursor")
    if cursor:
        cq.decode_call_cursor(cursor)  # a bad cursor is a 400 before anything is audited
    return audited_read(
        container,
        request,
        principal,
        "api.calls.search",
        lambda s: cq.search_calls(s, call_filter, cursor, limit),
    )


def _export(container: Container, request: Request, principal: Principal, body: dict[str, Any]) -> Any:
    """The filtered ledger as a streamed CSV or JSON Lines download."""
    params = request.query_params
    query_params.only(params, {*LEDGER_PARAMS, "format"})
    if params.get("format", "csv") not in ("csv", "jsonl"):
        raise queries.BadQuery("format must be csv or jsonl")
    filters = ledger_filter(
        params, container.settings.default_region
    )  # bad filters answer 400 before anything is audited or streamed
    audited_read(container, request, principal, "api.consents.export", lambda s: None)
    return export_response(container, filters, params.get("format", "csv"))


def _call_id(container: Container, connection_id: str) -> str:
    call_id = container.calls.id_for_connection(connection_id)
    if call_id is None:
        raise ApiError(404, "not_found", "no call with that call_connection_id")
    return call_id


def _evidence(container: Container, request: Request, principal: Principal, body: dict[str, Any]) -> Any:
    """Evidence bundle: ledger, prompts, segments, recordings, audit entries with canonical content."""
    connection_id = request.path_params["call_connection_id"]
    policy = container.settings.policy
    bundle = audited_read(
        container,
        request,
        principal,
        "api.call.evidence",
        lambda s: cq.evidence_bundle(s, connection_id, policy),
    )
    if bundle is None:
        raise ApiError(404, "not_found", "no call with that call_connection_id")
    return bundle


def _legal_hold(container: Container, request: Request, principal: Principal, body: dict[str, Any]) -> Any:
    """Place (POST) or release (DELETE) a legal hold, also on the Blob recordings where supported."""
    placing = request.method == "POST"
    reason = _text(body, "reason", required=placing) or "released"
    call_id = _call_id(container, request.path_params["call_connection_id"])
    actor = f"key:{principal.key_id}"
    result = container.compliance.holds.change(call_id, placing=placing, reason=reason, actor=actor)
    return JSONResponse(result, status_code=201 if placing else 200)


def _erase(container: Container, request: Request, principal: Principal, body: dict[str, Any]) -> Any:
    """Erase a participant: pseudonymised ledger, hash-only audit tombstones; refused while on legal hold,
    and for a participant the service holds nothing about unless an admin passes ``"force": true``."""
    participant = _text(body, "participant", max_len=256)
    assert participant is not None
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise ApiError(400, "invalid_body", "force must be true or false")
    if force and principal.role is not Role.ADMIN:
        raise ApiError(403, "force_requires_admin", "only an admin may force an erasure")
    return container.compliance.erasures.erase(participant, f"key:{principal.key_id}", force=force)


def _list_keys(container: Container, request: Request, principal: Principal, body: dict[str, Any]) -> Any:
    """List API keys (never the keys themselves)."""
    return audited_read(
        container,
        request,
        principal,
        "api.keys.read",
        lambda s: {"items": keys.list_keys(s, container.clock())},
    )


def _create_key(container: Container, request: Request, principal: Principal, body: dict[str, Any]) -> Any:
    """Create an API key; the key is in this response only."""
    role, name = body.get("role"), _text(body, "name", max_len=128)
    if role not in set(Role):
        raise ApiError(400, "invalid_body", f"role must be one of {', '.join(Role)}")
    days = body.get("expires_in_days")
    if days is not None and (not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650):
        raise ApiError(400, "invalid_body", "expires_in_days must be a whole number from 1 to 3650")
    key_id, key = container.keys.create(Role(str(role)), str(name), days, f"key:{principal.key_id}")
    return JSONResponse({"id": key_id, "key": key, "role": role, "name": name}, status_code=201)


def _revoke_key(container: Container, request: Request, principal: Principal, body: dict[str, Any]) -> Any:
    """Revoke an API key."""
    key_id = request.path_params["key_id"]
    container.keys.revoke(key_id, f"key:{principal.key_id}")
    return {"id": key_id, "state": "revoked"}


def routes() -> list[Route]:
    hold = "/api/calls/{call_connection_id}/legal-hold"
    return [
        Route("/api/openapi.json", openapi.document, methods=["GET"]),
        route("GET", "/api/calls", _search_calls),
        route("GET", "/api/consents/export", _export),
        route("GET", "/api/calls/{call_connection_id}/evidence", _evidence),
        route("POST", hold, _legal_hold, body_limit=BODY_LIMIT),
        route("DELETE", hold, _legal_hold, body_limit=BODY_LIMIT),
        route("POST", "/api/erasures", _erase, body_limit=BODY_LIMIT),
        route("GET", "/api/keys", _list_keys),
        route("POST", "/api/keys", _create_key, body_limit=BODY_LIMIT),
        route("DELETE", "/api/keys/{key_id}", _revoke_key),
    ]
