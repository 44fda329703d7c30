"""Compliance API beyond the ledger page: call search, export, evidence, legal holds, erasure, API keys."""

from __future__ import annotations

import importlib
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from recorder.bootstrap import Container
from recorder.db.unit_of_work import UnitOfWork
from recorder.services import compliance_queries as cq
from recorder.services import erasure, holds, keys, queries
from recorder.services.keys import Role
from recorder.web import openapi
from recorder.web.api import MAX_LIMIT, OUTCOMES, READERS, ApiError, _audited_read, _principal, _time
from recorder.web.responses import BodyTooLarge, error, read_body

MANAGERS = frozenset({Role.ADMIN, Role.OPERATOR})
ADMINS = frozenset({Role.ADMIN})
LEDGER_FILTERS = ("call_connection_id", "server_call_id", "participant", "outcome", "since", "until")

Handler = Callable[[Container, Request, dict[str, Any]], Any]


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        container: Container = request.app.state.container
        body: dict[str, Any] = {}
        try:
            if request.method in ("POST", "DELETE"):
                body = _json_object(await read_body(request, 64 * 1024))
            result = await run_in_threadpool(handler, container, request, body)
        except ApiError as exc:
            return error(exc.status, exc.code, str(exc))
        except queries.BadQuery as exc:
            return error(400, "invalid_query", str(exc))
        except BodyTooLarge:
            return error(413, "body_too_large", "the request body is larger than 64 KiB")
        return result if isinstance(result, Response) else JSONResponse(result)

    return endpoint


def _json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_body", "the body is not JSON") from None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_body", "the body must be a JSON object")
    return value


def _text(body: dict[str, Any], name: str, *, required: bool = True, max_len: int = 512) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise ApiError(
            400, "invalid_body", f"{name} must be a non-empty string of at most {max_len} characters"
        )
    return value.strip()


def _only(params: Any, allowed: set[str]) -> None:
    unknown = set(params) - allowed
    if unknown:
        raise queries.BadQuery(f"unknown parameters: {', '.join(sorted(unknown))}")


def _outcome(value: str | None) -> str | None:
    if value is not None and value not in OUTCOMES:
        raise queries.BadQuery(f"outcome must be one of {', '.join(sorted(OUTCOMES))}")
    return value


def _limit(params: Any) -> int:
    text = params.get("limit", "100")
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise queries.BadQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def ledger_filter(params: Any) -> queries.LedgerFilter:
    return queries.LedgerFilter(
        call_connection_id=params.get("call_connection_id"),
        server_call_id=params.get("server_call_id"),
        participant=params.get("participant"),
        outcome=_outcome(params.get("outcome")),
        since=_time(params.get("since"), "since"),
        until=_time(params.get("until"), "until"),
    )


def _search_calls(container: Container, request: Request, body: dict[str, Any]) -> Any:
    params = request.query_params
    _only(params, {"since", "until", "participant", "outcome", "recorded", "cursor", "limit"})
    recorded = params.get("recorded")
    if recorded not in (None, "true", "false"):
        raise queries.BadQuery("recorded must be true or false")
    call_filter = cq.CallFilter(
        since=_time(params.get("since"), "since"),
        until=_time(params.get("until"), "until"),
        participant=params.get("participant"),
        outcome=_outcome(params.get("outcome")),
        recorded=None if recorded is None else recorded == "true",
    )
    limit, cursor = _limit(params), params.get("cursor")
    return _audited_read(
        container,
        request,
        READERS,
        "api.calls.search",
        lambda s: cq.search_calls(s, call_filter, cursor, limit),
    )


def export_response(container: Container, params: Any) -> StreamingResponse:
    """The streaming body for an export whose access was already authorized and audited."""
    fmt = params.get("format", "csv")
    filters = ledger_filter(params)
    batches = cq.ledger_batches(container.engine, filters)
    if fmt == "jsonl":
        body, media, suffix = cq.export_jsonl(batches), "application/x-ndjson", "jsonl"
    else:
        body, media, suffix = cq.export_csv(batches), "text/csv; charset=utf-8", "csv"
    headers = {"Content-Disposition": f'attachment; filename="consent-ledger.{suffix}"'}
    return StreamingResponse(body, media_type=media, headers=headers)


def _export(container: Container, request: Request, body: dict[str, Any]) -> Any:
    params = request.query_params
    _only(params, {*LEDGER_FILTERS, "format"})
    if params.get("format", "csv") not in ("csv", "jsonl"):
        raise queries.BadQuery("format must be csv or jsonl")
    ledger_filter(params)  # bad filters answer 400 before anything is audited or streamed
    _audited_read(container, request, READERS, "api.consents.export", lambda s: None)
    return export_response(container, params)


def _call_id(container: Container, connection_id: str) -> str:
    with container.sessions() as session:
        from recorder.db.repository import CallRepository

        call_id = CallRepository(session).id_for_connection(connection_id)
    if call_id is None:
        raise ApiError(404, "not_found", "no call with that call_connection_id")
    return call_id


def _evidence(container: Container, request: Request, body: dict[str, Any]) -> Any:
    connection_id = request.path_params["call_connection_id"]
    policy = container.settings.policy
    bundle = _audited_read(
        container,
        request,
        READERS,
        "api.call.evidence",
        lambda s: cq.evidence_bundle(s, connection_id, policy),
    )
    if bundle is None:
        raise ApiError(404, "not_found", "no call with that call_connection_id")
    return bundle


def blob_legal_hold(container: Container, uow: UnitOfWork | None = None) -> holds.BlobHold | None:
    """storage's apply_blob_legal_hold when that feature provides it, else the Container's hook."""
    try:
        storage = importlib.import_module("recorder.services.storage")
    except ImportError:
        return container.compliance.blob_legal_hold
    apply = getattr(storage, "apply_blob_legal_hold", None)
    if apply is not None:
        return lambda call_id, on: str(apply(container, call_id, on, uow))  # in the request's transaction
    return container.compliance.blob_legal_hold


def _legal_hold(container: Container, request: Request, body: dict[str, Any]) -> Any:
    principal = _principal(container, request, MANAGERS)
    placing = request.method == "POST"
    reason = _text(body, "reason", required=placing) or "released"
    call_id = _call_id(container, request.path_params["call_connection_id"])
    actor = f"key:{principal.key_id}"
    with container.unit_of_work() as uow:
        change = holds.place_hold if placing else holds.release_hold
        try:
            result = change(uow, call_id, reason, actor, container.clock(), blob_legal_hold(container, uow))
        except holds.HoldConflict as exc:
            raise ApiError(409, exc.code, str(exc)) from None
        uow.commit()
    return JSONResponse(result, status_code=201 if placing else 200)


def _erase(container: Container, request: Request, body: dict[str, Any]) -> Any:
    principal = _principal(container, request, MANAGERS)
    participant = _text(body, "participant", max_len=256)
    assert participant is not None
    with container.unit_of_work() as uow:
        try:
            result = erasure.erase_participant(uow, participant, f"key:{principal.key_id}", container.clock())
        except erasure.ErasureRefused as exc:
            body = {"error": {"code": exc.code, "message": str(exc), "calls": exc.calls}}
            return JSONResponse(body, status_code=409)
        uow.commit()
    return result


def _list_keys(container: Container, request: Request, body: dict[str, Any]) -> Any:
    return _audited_read(
        container, request, ADMINS, "api.keys.read", lambda s: {"items": keys.list_keys(s, container.clock())}
    )


def _create_key(container: Container, request: Request, body: dict[str, Any]) -> Any:
    principal = _principal(container, request, ADMINS)
    role, name = body.get("role"), _text(body, "name", max_len=128)
    if role not in set(Role):
        raise ApiError(400, "invalid_body", f"role must be one of {', '.join(Role)}")
    days = body.get("expires_in_days")
    if days is not None and (not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650):
        raise ApiError(400, "invalid_body", "expires_in_days must be a whole number from 1 to 3650")
    now = container.clock()
    with container.unit_of_work() as uow:
        ttl = timedelta(days=days) if days else None
        key_id, key = keys.create_key(uow.session, Role(str(role)), str(name), now, ttl)
        data = {"key_id": key_id, "role": role, "name": name, "expires_in_days": days}
        uow.audit.append(f"key:{principal.key_id}", "api_key.created", None, data, now)
        uow.commit()
    return JSONResponse({"id": key_id, "key": key, "role": role, "name": name}, status_code=201)


def _revoke_key(container: Container, request: Request, body: dict[str, Any]) -> Any:
    principal = _principal(container, request, ADMINS)
    key_id, now = request.path_params["key_id"], container.clock()
    with container.unit_of_work() as uow:
        if not keys.revoke_key(uow.session, key_id, now):
            raise ApiError(404, "not_found", "no API key with that id")
        uow.audit.append(f"key:{principal.key_id}", "api_key.revoked", None, {"key_id": key_id}, now)
        uow.commit()
    return {"id": key_id, "state": "revoked"}


def routes() -> list[Route]:
    return [
        Route("/api/openapi.json", openapi.document, methods=["GET"]),
        Route("/api/calls", _endpoint(_search_calls), methods=["GET"]),
        Route("/api/consents/export", _endpoint(_export), methods=["GET"]),
        Route("/api/calls/{call_connection_id}/evidence", _endpoint(_evidence), methods=["GET"]),
        Route(
            "/api/calls/{call_connection_id}/legal-hold", _endpoint(_legal_hold), methods=["POST", "DELETE"]
        ),
        Route("/api/erasures", _endpoint(_erase), methods=["POST"]),
        Route("/api/keys", _endpoint(_list_keys), methods=["GET"]),
        Route("/api/keys", _endpoint(_create_key), methods=["POST"]),
        Route("/api/keys/{key_id}", _endpoint(_revoke_key), methods=["DELETE"]),
    ]
