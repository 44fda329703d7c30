"""Verifies the JWT that ACS puts on every callback: RS256 only, signature from the JWKS, iss, aud, and
exp / nbf / iat (when present) with a small leeway. Also verifies Entra ID tokens (compliance API, Event
Grid deliveries).

Keys are cached; an unknown ``kid`` triggers a refresh, at most once per ``min_refresh_interval`` so that a
stream of forged tokens cannot make us hammer the JWKS endpoint.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import jwt
from jwt.algorithms import RSAAlgorithm


class CallbackAuthError(Exception):
    """The callback is not from ACS (or not for us); the message is safe to log."""


class KeysUnavailable(CallbackAuthError):
    """The token could not be checked right now (the signing keys could not be fetched): answer 503, so the
    sender retries, never 401, which Event Grid does not retry and after which ACS does not redeliver."""


class CallbackVerifier:
    def __init__(
        self,
        jwks_url: str,
        issuer: str | Sequence[str],
        audience: str,
        *,
        leeway_seconds: int = 30,
        min_refresh_interval: float = 30.0,
        http: httpx.Client | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._jwks_url = jwks_url
        self._issuer = issuer if isinstance(issuer, str) else list(issuer)
        self._audience = audience
        self._leeway = leeway_seconds
        self._min_refresh = min_refresh_interval
        self._http = http or httpx.Client(timeout=5.0)
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self.fetches = 0  # JWKS requests made, for tests and diagnostics

    def verify(self, authorization: str | None) -> dict[str, Any]:
        if not authorization or not authorization.startswith("Bearer "):
            raise CallbackAuthError("missing bearer token")
        token = authorization.removeprefix("Bearer ").strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise CallbackAuthError("malformed token") from exc
        if header.get("alg") != "RS256":
            raise CallbackAuthError("token algorithm is not RS256")
        key = self._key(str(header.get("kid", "")))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=["RS256"],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud"], "verify_nbf": True, "verify_iat": True},
            )
        except jwt.PyJWTError as exc:
            raise CallbackAuthError(f"invalid token: {type(exc).__name__}") from exc
        return claims

    def close(self) -> None:
        self._http.close()

    def _key(self, kid: str) -> Any:
        with self._lock:
            if kid not in self._keys and self._monotonic() - self._fetched_at >= self._min_refresh:
                self._refresh()
            key = self._keys.get(kid)
        if key is None:
            raise CallbackAuthError("unknown signing key")
        return key

    def _refresh(self) -> None:
        self._fetched_at = self._monotonic()
        self.fetches += 1
        try:
            response = self._http.get(self._jwks_url)
            response.raise_for_status()
            keys = response.json().get("keys", [])
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            raise KeysUnavailable(f"signing keys unavailable: {type(exc).__name__}") from exc
        loaded: dict[str, Any] = {}
        for jwk in keys:
            if isinstance(jwk, dict) and jwk.get("kty") == "RSA" and jwk.get("kid"):
                try:
                    loaded[str(jwk["kid"])] = RSAAlgorithm.from_jwk(json.dumps(jwk))
                except (jwt.PyJWTError, ValueError, TypeError):
                    continue  # one malformed key must not hide the others
        if loaded:  # an empty answer is an upstream fault: keep the keys we had rather than reject everything
            self._keys = loaded
