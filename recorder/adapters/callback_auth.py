"""Verifies the JWT that ACS puts on every callback: RS256 only, signature from the JWKS, iss, aud, and
exp / nbf / iat (when present) with a small leeway, and (for ACS) a cap on the token's lifetime. Also
verifies Entra ID tokens (compliance API, Event Grid deliveries).

Keys are cached and always served from the cache without waiting: an unknown ``kid`` triggers a refresh, at
most once per ``min_refresh_interval`` so that a stream of forged tokens cannot make us hammer the JWKS
endpoint, and the fetch runs outside the lock; only tokens whose kid is unknown wait for it. A fetch that
fails keeps the keys already known. A token is rejected for its kid only when the last fetch answered
without that key (issuers publish a key before signing with it); when the last fetch failed, it raises
``KeysUnavailable``: answered 503, which the sender retries, never a rejection that loses the event.
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

# ACS's callback tokens live 5 minutes (learn.microsoft.com, "How to secure webhook endpoint"); a token that
# claims to live longer is not one of them.
ACS_CALLBACK_MAX_LIFETIME_SECONDS = 600


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
        max_lifetime_seconds: int | None = None,
        http: httpx.Client | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._jwks_url = jwks_url
        self._issuer = issuer if isinstance(issuer, str) else list(issuer)
        self._audience = audience
        self._leeway = leeway_seconds
        self._min_refresh = min_refresh_interval
        self._http = http or httpx.Client(timeout=5.0)
        self._max_lifetime = max_lifetime_seconds
        self._keys: dict[str, Any] = {}  # replaced whole on refresh, read without the lock
        self._fetched_at = float("-inf")
        self._last_fetch_ok = False
        self._in_flight: threading.Event | None = None
        self._lock = threading.Lock()  # guards only the refresh bookkeeping, never held during a fetch
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
        self._check_lifetime(claims)
        return claims

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        if self._max_lifetime is None:
            return
        exp, iat = claims["exp"], claims.get("iat")
        start = iat if isinstance(iat, int | float) else time.time()
        if exp - start > self._max_lifetime + self._leeway:
            raise CallbackAuthError("token lifetime is longer than accepted")

    def close(self) -> None:
        self._http.close()

    def _key(self, kid: str) -> Any:
        key = self._keys.get(kid)
        if key is not None:
            return key
        self._refresh_if_due()
        key = self._keys.get(kid)
        if key is not None:
            return key
        if self._last_fetch_ok:  # the JWKS answered (now, or within the interval) without this key
            raise CallbackAuthError("unknown signing key")
        raise KeysUnavailable("signing key unknown and the JWKS cannot be fetched right now")

    def _refresh_if_due(self) -> None:
        """One fetch at a time, at most once per interval; callers for an unknown kid wait for the fetch in
        flight (up to the HTTP timeout), nobody else does."""
        with self._lock:
            waiting_for = self._in_flight
            if waiting_for is None:
                if self._monotonic() - self._fetched_at < self._min_refresh:
                    return
                self._fetched_at = self._monotonic()
                self._in_flight = threading.Event()
        if waiting_for is not None:
            waiting_for.wait(timeout=30)
            return
        try:
            self._refresh()
        finally:
            with self._lock:
                done, self._in_flight = self._in_flight, None
            if done is not None:
                done.set()

    def _refresh(self) -> None:
        self.fetches += 1
        try:
            response = self._http.get(self._jwks_url)
            response.raise_for_status()
            keys = response.json().get("keys", [])
        except (httpx.HTTPError, ValueError, AttributeError):
            self._last_fetch_ok = False
            return
        loaded: dict[str, Any] = {}
        for jwk in keys if isinstance(keys, list) else []:
            if isinstance(jwk, dict) and jwk.get("kty") == "RSA" and jwk.get("kid"):
                try:
                    loaded[str(jwk["kid"])] = RSAAlgorithm.from_jwk(json.dumps(jwk))
                except (jwt.PyJWTError, ValueError, TypeError):
                    continue  # one malformed key must not hide the others
        # an empty answer is an upstream fault: keep the keys we had rather than reject everything
        self._last_fetch_ok = bool(loaded)
        if loaded:
            self._keys = loaded
