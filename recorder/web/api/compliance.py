"""Compliance API beyond the ledger page: call search, export, evidence, legal holds, erasure, API keys."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from recorder.bootstrap import Container
from recorder.services.queries import compliance as cq
from recorder.services.queries import registers
from recorder.services.tokens.api_keys import Principal, Role
from recorder.web.api import docs, openapi
from recorder.web.api.exports import export_response
from recorder.web.api.ledger import NO_CALL, TO_CALL, filter_of, participant
from recorder.web.api.models import reads, writes
from recorder.web.api.models.base import Body
from recorder.web.api.routing import Answer, ApiError, CursorPages, Link, Spec, audited_read, route

BODY_LIMIT = 64 * 1024
CALL = "/api/calls/{call_connection_id}"
HOLD = f"{CALL}/legal-hold"
SAME_CALL = {"call_connection_id": "$request.path.call_connection_id"}
CALL_PAGES = CursorPages("api.calls.search", cq.decode_call_cursor, cq.search_calls)


def _search_calls(
    container: Container, request: Request, principal: Principal, query: reads.CallSearchQuery
) -> Any:
    """Search calls by time, participant, outcome, recorded or not."""
    call_filter = cq.CallFilter(
        since=query.since,
        until=query.until,
        participant=participant(query.participant, container.settings.default_region),
        outcome=query.outcome,
        recorded=query.recorded,
    )
    return CALL_PAGES.read(container, request, principal, call_filter, query.cursor, query.limit)


def _export_consents(
    container: Container, request: Request, principal: Principal, query: reads.ExportQuery
) -> Any:
    """The filtered ledger as a streamed CSV or JSON Lines download."""
    audited_read(container, request, principal, "api.consents.export", lambda s: None)
    return export_response(container, filter_of(query, container.settings.default_region), query.format)


def _call_id(container: Container, connection_id: str) -> str:
    call_id = container.calls.id_for_connection(connection_id)
    if call_id is None:
        raise ApiError(404, "not_found", "no call with that call_connection_id")
    return call_id


def _get_evidence(container: Container, request: Request, principal: Principal, query: None) -> Any:
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


def _change_hold(container: Container, request: Request, principal: Principal, reason: str) -> Any:
    placing = request.method == "POST"
    call_id = _call_id(container, request.path_params["call_connection_id"])
    actor = f"key:{principal.key_id}"
    return container.compliance.holds.change(call_id, placing=placing, reason=reason, actor=actor)


def _place_legal_hold(
    container: Container, request: Request, principal: Principal, body: writes.PlaceHold
) -> Any:
    """Place a legal hold, also on the Blob recordings where supported."""
    return Answer(_change_hold(container, request, principal, body.reason), 201)


def _release_legal_hold(
    container: Container, request: Request, principal: Principal, body: writes.ReleaseHold
) -> Any:
    """Release the legal hold (and the Blob recordings' hold where one was placed)."""
    return _change_hold(container, request, principal, body.reason)


def _erase_participant(
    container: Container, request: Request, principal: Principal, body: writes.Erase
) -> Any:
    """Erase a participant: pseudonymised ledger, hash-only audit tombstones; refused while on legal hold,
    and for a participant the service holds nothing about unless an admin passes ``"force": true``."""
    if body.force and principal.role is not Role.ADMIN:
        raise ApiError(403, "force_requires_admin", "only an admin may force an erasure")
    return container.compliance.erasures.erase(body.participant, f"key:{principal.key_id}", force=body.force)


def _list_keys(container: Container, request: Request, principal: Principal, query: None) -> Any:
    """List API keys (never the keys themselves)."""
    return audited_read(
        container,
        request,
        principal,
        "api.keys.read",
        lambda s: {"items": registers.keys(s, container.clock())},
    )


def _create_key(container: Container, request: Request, principal: Principal, body: writes.CreateKey) -> Any:
    """Create an API key; the key is in this response only."""
    actor = f"key:{principal.key_id}"
    key_id, key = container.keys.create(Role(body.role), body.name, body.expires_in_days, actor)
    return Answer({"id": key_id, "key": key, "role": body.role, "name": body.name}, 201)


def _revoke_key(container: Container, request: Request, principal: Principal, body: None) -> Any:
    """Revoke an API key."""
    key_id = request.path_params["key_id"]
    container.keys.revoke(key_id, f"key:{principal.key_id}")
    return {"id": key_id, "state": "revoked"}


def _with_body(replies: dict[int, Any], model: type[Body], errors: dict[int, str], **extra: Any) -> Spec:
    return Spec(replies, body=model, body_limit=BODY_LIMIT, errors=errors, **extra)


SEARCH = Spec(
    {200: reads.CallPage},
    reads.CallSearchQuery,
    links={"GetCall": Link("get_call", TO_CALL), "GetEvidence": Link("get_evidence", TO_CALL)},
)
EXPORT = Spec(
    {200: None},
    reads.ExportQuery,
    errors={503: "export_unavailable: the export could not be started"},
    media={"text/csv": "format=csv: RFC 4180", "application/x-ndjson": "format=jsonl"},
)
PLACE_HOLD = _with_body(
    {201: reads.LegalHold},
    writes.PlaceHold,
    {**NO_CALL, 409: "already_on_hold"},
    links={"ReleaseLegalHold": Link("release_legal_hold", SAME_CALL)},
)
RELEASE_HOLD = _with_body({200: reads.LegalHold}, writes.ReleaseHold, {**NO_CALL, 409: "not_on_hold"})
ERASE = _with_body(
    {200: writes.Erased},
    writes.Erase,
    {
        403: "the key's role may not do this, or may not force (admin only): forbidden, force_requires_admin",
        404: "unknown_participant: no data held for this participant (an admin may force)",
        409: "a call of the participant is on legal hold",
    },
)
CREATE_KEY = _with_body(
    {201: writes.NewKey},
    writes.CreateKey,
    {},
    links={"RevokeKey": Link("revoke_key", {"key_id": "$response.body#/id"})},
)
REVOKE_KEY = Spec({200: writes.KeyRevoked}, errors={404: "no such key"})


def routes() -> list[Route]:
    return [
        Route("/api/openapi.json", openapi.document, methods=["GET"]),
        *docs.routes(),
        route("GET", "/api/calls", _search_calls, SEARCH),
        route("GET", "/api/consents/export", _export_consents, EXPORT),
        route("GET", f"{CALL}/evidence", _get_evidence, Spec({200: reads.Evidence}, errors=NO_CALL)),
        route("POST", HOLD, _place_legal_hold, PLACE_HOLD),
        route("DELETE", HOLD, _release_legal_hold, RELEASE_HOLD),
        route("POST", "/api/erasures", _erase_participant, ERASE),
        route("GET", "/api/keys", _list_keys, Spec({200: writes.KeyList})),
        route("POST", "/api/keys", _create_key, CREATE_KEY),
        route("DELETE", "/api/keys/{key_id}", _revoke_key, REVOKE_KEY),
    ]
