"""Server-rendered pages for compliance officers under /console: the consent ledger, the calls, one call's
story (timeline, list, exposure) and its evidence, the audit chain, exports.

``session.py`` signs officers in and guards every page; ``pages.py`` holds the list pages; ``call_pages.py``
one call and its evidence; ``timeline.py`` lays out the timeline picture; ``formats.py`` shows times in the
officer's own zone.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from recorder.web.console import call_pages, pages
from recorder.web.console.session import guarded, login, login_form, logout


async def home(request: Request) -> Response:
    return RedirectResponse("/console/ledger", status_code=303)


def routes() -> list[Route]:
    call = "/console/calls/{call_connection_id}"
    return [
        Route("/console", home, methods=["GET"]),
        Route("/console/login", login_form, methods=["GET"]),
        Route("/console/login", login, methods=["POST"]),
        Route("/console/logout", logout, methods=["POST"]),
        Route("/console/ledger", guarded(pages.ledger), methods=["GET"]),
        Route("/console/calls", guarded(pages.calls), methods=["GET"]),
        Route(call, guarded(call_pages.call_page), methods=["GET"]),
        Route(f"{call}/evidence", guarded(call_pages.evidence_json), methods=["GET"]),
        Route(f"{call}/evidence/print", guarded(call_pages.evidence_page), methods=["GET"]),
        Route("/console/audit", guarded(pages.audit_page), methods=["GET"]),
        Route("/console/export", guarded(pages.export), methods=["GET"]),
    ]
