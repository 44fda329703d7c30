"""``POST /api/tokens`` (roles service, admin) and ``POST /api/tokens/revoke`` (roles operator, admin).

Responses that carry a token say ``Cache-Control: no-store`` so no proxy or browser cache keeps it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from recorder.bootstrap import Container
from recorder.services.tokens.api_keys import Principal
from recorder.web.api.models.writes import AccessToken, IssueToken, RevokeTokens, TokensRevoked
from recorder.web.api.routing import Answer, Spec, route

MAX_BODY = 4096
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
ISSUE = Spec(
    {200: AccessToken},
    body=IssueToken,
    body_limit=MAX_BODY,
    errors={409: "identity_conflict: the user's identity changed meanwhile", 502: "acs_unavailable"},
)
REVOKE = Spec(
    {200: TokensRevoked},
    body=RevokeTokens,
    body_limit=MAX_BODY,
    errors={404: "unknown_identity: this service issued no tokens for that identity", 502: "acs_unavailable"},
)


def routes() -> list[Route]:
    return [
        route("POST", "/api/tokens", _issue_token, ISSUE),
        route("POST", "/api/tokens/revoke", _revoke_tokens, REVOKE),
    ]


def _issue_token(container: Container, request: Request, principal: Principal, body: IssueToken) -> Any:
    """Issue an ACS access token (VoIP) for one of the application's users."""
    issued = container.tokens.issue(body.user_id, f"key:{principal.key_id}")
    answer = {
        "token": issued.token,
        "expires_on": issued.expires_on.isoformat().replace("+00:00", "Z"),
        "identity": issued.identity,
    }
    return Answer(answer, 200, NO_STORE)


def _revoke_tokens(container: Container, request: Request, principal: Principal, body: RevokeTokens) -> Any:
    """Revoke every token of an identity this service issued."""
    container.tokens.revoke(body.identity, f"key:{principal.key_id}")
    return {"identity": body.identity, "revoked": True}
