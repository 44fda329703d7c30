"""Entra ID access tokens for the compliance API: signature (JWKS), issuer, audience, expiry; app roles
mapped to our roles. When a token carries several mapped roles the most powerful one applies."""

from __future__ import annotations

from collections.abc import Mapping

from recorder.adapters.callback_auth import CallbackAuthError, CallbackVerifier, KeysUnavailable
from recorder.services.tokens.api_keys import Principal, Role

PRECEDENCE = (Role.ADMIN, Role.OPERATOR, Role.AUDITOR, Role.SERVICE)


class EntraRejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


def entra_principal(verifier: CallbackVerifier, role_map: Mapping[str, str], token: str) -> Principal:
    try:
        claims = verifier.verify(f"Bearer {token}")
    except KeysUnavailable:
        raise  # not a verdict on the token: the caller answers 503
    except CallbackAuthError as exc:
        raise EntraRejected(401, f"the access token is not valid: {exc}") from None
    app_roles = claims.get("roles") or []
    granted = {Role(role_map[r]) for r in app_roles if isinstance(r, str) and r in role_map}
    subject = str(claims.get("oid") or claims.get("sub") or "unknown")
    name = str(claims.get("name") or claims.get("appid") or claims.get("azp") or subject)
    for role in PRECEDENCE:
        if role in granted:
            return Principal(f"entra:{subject}", name, role)
    raise EntraRejected(403, "the access token carries none of this service's app roles")
