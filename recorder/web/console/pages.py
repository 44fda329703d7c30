"""The console's list pages: the consent ledger, the calls, the audit chain, and the ledger export."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from recorder.bootstrap import Container
from recorder.services.queries import audit_view, calls_view, numbers
from recorder.services.queries import ledger as queries
from recorder.services.tokens.api_keys import Principal
from recorder.web.api.exports import export_response
from recorder.web.api.ledger import LEDGER_PARAMS, ledger_filter
from recorder.web.api.query_params import OUTCOMES
from recorder.web.console import formats
from recorder.web.console.session import audit, audited, render

CALLS_PARAMS = ("from", "to", "participant", "outcome", "recorded", "region", "hold", "exposed", "page")
_PAGE = re.compile(r"[1-9][0-9]{0,5}")
_REGION = re.compile(r"[A-Za-z0-9 _\-]{1,64}")


def _times(request: Request) -> dict[str, Any]:
    zone = formats.zone_of(request)
    return {
        "zone": zone,
        "zone_name": formats.zone_name(zone),
        "when": formats.when,
        "duration": formats.duration,
    }


def ledger(request: Request, container: Container, principal: Principal, token: str) -> Response:
    params = {k: v for k, v in request.query_params.items() if v and k in (*LEDGER_PARAMS, "cursor")}
    filters = ledger_filter(params, container.settings.default_region)
    cursor = params.get("cursor")
    page = audited(
        container,
        principal,
        request,
        "console.consents.read",
        lambda s: queries.consents(s, filters, cursor, 50),
    )
    query = urlencode({k: v for k, v in params.items() if k != "cursor"})
    return render(
        request,
        "ledger.html",
        principal,
        token,
        items=page["items"],
        next=page["next"],
        filters=params,
        outcomes=sorted(OUTCOMES),
        query=query,
        **_times(request),
    )


def _yes_no(value: str | None, name: str) -> bool | None:
    if value in (None, "", "any"):
        return None
    if value not in ("yes", "no"):
        raise queries.BadQuery(f"{name} must be yes, no or any")
    return value == "yes"


def calls_filter(
    params: dict[str, str], request: Request, region_typed: str | None
) -> tuple[calls_view.CallsFilter, int]:
    formats.check_zone(request)
    zone = formats.zone_of(request)
    participant = params.get("participant")
    region = params.get("region")
    if region is not None and not _REGION.fullmatch(region):
        raise queries.BadQuery("region must be a storage region name such as uksouth")
    page = params.get("page", "1")
    if not _PAGE.fullmatch(page):
        raise queries.BadQuery("page must be a whole number from 1")
    found = calls_view.CallsFilter(
        since=formats.day_start(params.get("from"), zone, "from"),
        until=formats.day_start(params.get("to"), zone, "to", next_day=True),
        participant=numbers.partial(participant, region_typed) if participant else None,
        outcome=params.get("outcome") if params.get("outcome") in OUTCOMES else None,
        recorded=_yes_no(params.get("recorded"), "recorded"),
        region=region,
        legal_hold=_yes_no(params.get("hold"), "hold"),
        exposed=params.get("exposed") == "yes",
    )
    if params.get("outcome") and found.outcome is None:
        raise queries.BadQuery(f"outcome must be one of {', '.join(sorted(OUTCOMES))}")
    return found, int(page)


def calls(request: Request, container: Container, principal: Principal, token: str) -> Response:
    params = {k: v.strip() for k, v in request.query_params.items() if v.strip() and k in CALLS_PARAMS}
    filters, page = calls_filter(params, request, container.settings.default_region)

    def read(session: Session) -> dict[str, Any]:
        return calls_view.list_calls(session, filters, page)

    found = audited(container, principal, request, "console.calls.read", read)
    query = {k: v for k, v in params.items() if k != "page"}
    pages = {
        "previous": urlencode({**query, "page": page - 1}) if page > 1 else None,
        "next": urlencode({**query, "page": page + 1}) if page < found["pages"] else None,
    }
    return render(
        request,
        "calls.html",
        principal,
        token,
        found=found,
        filters=params,
        outcomes=sorted(OUTCOMES),
        links=pages,
        zones=formats.ZONES,
        **_times(request),
    )


def audit_page(request: Request, container: Container, principal: Principal, token: str) -> Response:
    anchors = container.compliance.anchors

    def read(session: Session) -> dict[str, Any]:
        result = audit_view.verification(session, anchors).as_json()
        first_bad = result["first_bad"]
        result["broken_entry"] = audit_view.broken_entry(
            session, first_bad if isinstance(first_bad, int) else None
        )
        return result

    result = audited(container, principal, request, "console.audit.verify", read)
    return render(request, "audit.html", principal, token, result=result)


def export(request: Request, container: Container, principal: Principal, token: str) -> Response:
    params = {k: v for k, v in request.query_params.items() if v and k in (*LEDGER_PARAMS, "format")}
    if params.get("format", "csv") not in ("csv", "jsonl"):
        raise queries.BadQuery("format must be csv or jsonl")
    filters = ledger_filter(params, container.settings.default_region)
    audit(container, principal, request, "console.consents.export")
    return export_response(container, filters, params.get("format", "csv"))
