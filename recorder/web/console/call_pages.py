"""One call as one story (timeline picture, then the same story as a list), its evidence as JSON and as a
printable page, with a tampering warning whenever the audit chain no longer vouches for this call."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from recorder.bootstrap import Container
from recorder.services.queries.call_view import call_view
from recorder.services.tokens.api_keys import Principal
from recorder.web.console import formats, timeline
from recorder.web.console.session import audited, not_found, render


def _read(
    request: Request, container: Container, principal: Principal, action: str, whole_chain: bool = True
) -> dict[str, Any] | None:
    connection_id, policy = request.path_params["call_connection_id"], container.settings.policy
    anchors = container.compliance.anchors

    def read(session: Session) -> dict[str, Any] | None:
        return call_view(session, connection_id, policy, anchors, whole_chain)

    found: dict[str, Any] | None = audited(container, principal, request, action, read)
    return found


def _context(request: Request, view: dict[str, Any], container: Container) -> dict[str, Any]:
    zone = formats.zone_of(request)
    told = view["story"]
    prompts = {p["sha256"]: p for p in view["bundle"]["prompts"]}
    return {
        **view,
        "call": view["bundle"]["call"],
        "picture": timeline.picture(told, zone) if told else None,
        "prompts": prompts,
        "zone": zone,
        "zone_name": formats.zone_name(zone),
        "when": formats.when,
        "duration": formats.duration,
        "keys": formats.KEYS,
        "verification_time": container.clock(),
    }


def call_page(request: Request, container: Container, principal: Principal, token: str) -> Response:
    view = _read(request, container, principal, "console.call.read", whole_chain=False)
    if view is None:
        return not_found(request, principal, token)
    return render(request, "call.html", principal, token, **_context(request, view, container))


def evidence_json(request: Request, container: Container, principal: Principal, token: str) -> Response:
    view = _read(request, container, principal, "console.call.evidence")
    if view is None:
        return not_found(request, principal, token)
    name = _file_name(view["bundle"]["call"]["call_connection_id"], "json")
    return JSONResponse(view["bundle"], headers={"Content-Disposition": f'attachment; filename="{name}"'})


def evidence_page(request: Request, container: Container, principal: Principal, token: str) -> Response:
    """The evidence as a page to print (or save as PDF from the browser's print dialog: its title is the
    file name, and it carries the call id)."""
    view = _read(request, container, principal, "console.call.evidence")
    if view is None:
        return not_found(request, principal, token)
    context = _context(request, view, container)
    context["file_name"] = _file_name(view["bundle"]["call"]["call_connection_id"], "html")
    response = render(request, "evidence.html", principal, token, **context)
    response.headers["Content-Disposition"] = f'inline; filename="{context["file_name"]}"'
    return response


def _file_name(connection_id: str, suffix: str) -> str:
    """``evidence-<call id>.<suffix>``, with anything a header or a file system would mind replaced."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in connection_id)
    return f"evidence-{safe[:120]}.{suffix}"
