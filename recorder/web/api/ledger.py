"""The compliance API's reads of the ledger, one call's timeline and the audit chain.

Every API route is made with ``routing.route``: authentication and roles first, then the route's request
model, the handler, and the route's response model (``api/models/``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from recorder.bootstrap import Container
from recorder.services.queries import audit_view, numbers
from recorder.services.queries import ledger as queries
from recorder.services.tokens.api_keys import Principal
from recorder.web.api import roles
from recorder.web.api.models import reads
from recorder.web.api.routing import ApiError, CursorPages, Link, Spec, audited_read, authorize, route

__all__ = ["LEDGER_PARAMS", "READERS", "ApiError", "audited_read", "authorize", "ledger_filter", "route"]

READERS = roles.READ  # who may use the console
NO_CALL = {404: "no call with that call_connection_id"}
LEDGER_PARAMS = {"call_connection_id", "server_call_id", "participant", "outcome", "since", "until"}
TO_CALL = {"call_connection_id": "$response.body#/items/0/call_connection_id"}


def ledger_filter(params: Any, region: str | None) -> queries.LedgerFilter:
    """The console's ledger filter from its query string, by the API's rules (other parameters ignored)."""
    query = reads.LedgerQuery.parse({k: v for k, v in params.items() if k in LEDGER_PARAMS})
    return filter_of(query, region)


def filter_of(query: reads.LedgerQuery, region: str | None) -> queries.LedgerFilter:
    """``region``: how a national number typed as ``participant`` is read (``[console] default_region``)."""
    return queries.LedgerFilter(
        call_connection_id=query.call_connection_id,
        server_call_id=query.server_call_id,
        participant=participant(query.participant, region),
        outcome=query.outcome,
        since=query.since,
        until=query.until,
    )


def participant(typed: str | None, region: str | None) -> str | None:
    """The raw id a typed participant names (``services/queries/numbers.py``); 400 if it cannot be one."""
    return None if typed is None else numbers.canonical(typed, region)


CONSENT_PAGES = CursorPages("api.consents.read", queries.decode_cursor, queries.consents)


def _list_consents(
    container: Container, request: Request, principal: Principal, query: reads.ConsentsQuery
) -> Any:
    """The consent ledger, stable order, cursor pages."""
    filters = filter_of(query, container.settings.default_region)
    return CONSENT_PAGES.read(container, request, principal, filters, query.cursor, query.limit)


def _get_call(container: Container, request: Request, principal: Principal, query: None) -> Any:
    """One call's timeline."""
    connection_id = request.path_params["call_connection_id"]
    timeline = audited_read(
        container, request, principal, "api.call.read", lambda s: queries.call_timeline(s, connection_id)
    )
    if timeline is None:
        raise ApiError(404, "not_found", "no call with that call_connection_id")
    return timeline


def _verify_audit(container: Container, request: Request, principal: Principal, query: None) -> Any:
    """Recompute the audit chain and compare it with its anchors."""
    store = container.compliance.anchors
    result = audited_read(
        container, request, principal, "api.audit.verify", lambda s: audit_view.verification(s, store)
    )
    return result.as_json()


def routes() -> list[Route]:
    consents = Spec(
        {200: reads.ConsentPage},
        query=reads.ConsentsQuery,
        links={"GetCallOfFirstRow": Link("get_call", TO_CALL)},
    )
    return [
        route("GET", "/api/consents", _list_consents, consents),
        route(
            "GET", "/api/calls/{call_connection_id}", _get_call, Spec({200: reads.Timeline}, errors=NO_CALL)
        ),
        route("GET", "/api/audit/verify", _verify_audit, Spec({200: reads.Verification})),
    ]
