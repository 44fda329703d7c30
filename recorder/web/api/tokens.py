"""``POST /api/tokens`` (roles service, admin) and ``POST /api/tokens/revoke`` (roles operator, admin).

Responses that carry a token say ``Cache-Control: no-store`` so no proxy or browser cache keeps it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from recorder.bootstrap import Container
from recorder.services.tokens.api_keys import Principal
from recorder.services.tokens.user_tokens import check_identity, check_user_id
from recorder.web.api.ledger import route

MAX_BODY = 4096
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def routes() -> list[Route]:
    return [
        route("POST", "/api/tokens", _issue, body_limit=MAX_BODY),
        route("POST", "/api/tokens/revoke", _revoke, body_limit=MAX_BODY),
    ]


def _issue(container: Container, request: Request, principal: Principal, body: dict[str, Any]) -> Any:
    """Issue an ACS access token (VoIP) for one of the application's users."""
    user_id = check_user_id(body.get("user_id"))
    issued = container.tokens.issue(user_id, f"key:{principal.key_id}")
    answer = {
        "token": issued.token,
        "expires_on": issued.expires_on.isoformat().replace("+00:00", "Z"),
        "identity": issued.identity,
    }
    return JSONResponse(answer, headers=NO_STORE)


def _revoke(container: Container, request: Request, principal: Principal, body: dict[str, Any]) -> Any:
    """Revoke every token of an identity this service issued."""
    identity = check_identity(body.get("identity"))
    container.tokens.revoke(identity, f"key:{principal.key_id}")
    return {"identity": identity, "revoked": True}
