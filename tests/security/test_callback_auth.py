"""The callback JWT verifier against a real JWKS endpoint: claims, algorithms, and the refresh rate limit."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jwt
import pytest

from recorder.adapters.callback_auth import CallbackAuthError, CallbackVerifier, KeysUnavailable
from tests.security.jwks import Jwks, jwks_server

ISSUER, AUDIENCE = "https://acscallautomation.communication.azure.com", "acs-resource-id"


HTTP = httpx.Client(timeout=5)


@pytest.fixture(scope="module")
def jwks() -> Iterator[Jwks]:
    with jwks_server() as server, HTTP:
        yield server


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verifier(jwks: Jwks, clock: Clock | None = None) -> CallbackVerifier:
    return CallbackVerifier(jwks.url, ISSUER, AUDIENCE, monotonic=clock or Clock(), http=HTTP)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def test_a_valid_token_is_accepted(jwks: Jwks) -> None:
    claims = verifier(jwks).verify(bearer(jwks.token(ISSUER, AUDIENCE)))
    assert claims["aud"] == AUDIENCE


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"nbf": 120}, "ImmatureSignatureError"),
        ({"iat": 120}, "ImmatureSignatureError"),
        ({"exp": -120}, "ExpiredSignatureError"),
        ({"exp": None}, "MissingRequiredClaimError"),
        ({"aud": "another-resource"}, "InvalidAudienceError"),
        ({"iss": "https://evil.example"}, "InvalidIssuerError"),
        ({"nbf": "soon"}, "DecodeError"),
        ({"iat": "yesterday"}, "InvalidIssuedAtError"),
    ],
)
def test_claims_outside_the_leeway_are_refused(jwks: Jwks, claims: dict[str, Any], reason: str) -> None:
    # whole numbers for the time claims are offsets from now: the parameters are made at collection time
    now = int(time.time())
    claims = {
        k: now + v if k in ("nbf", "iat", "exp") and isinstance(v, int) else v for k, v in claims.items()
    }
    overrides = {k: v for k, v in claims.items() if k in ("aud", "iss")}
    token = jwks.token(
        str(overrides.get("iss", ISSUER)),
        str(overrides.get("aud", AUDIENCE)),
        **{k: v for k, v in claims.items() if k not in ("aud", "iss")},
    )
    with pytest.raises(CallbackAuthError, match=reason):
        verifier(jwks).verify(bearer(token))


def test_nbf_and_iat_within_the_small_leeway_are_accepted(jwks: Jwks) -> None:
    soon = int(time.time()) + 20  # clocks drift: 30 s of leeway
    verifier(jwks).verify(bearer(jwks.token(ISSUER, AUDIENCE, nbf=soon, iat=soon)))


def _unsigned(header: dict[str, str], claims: dict[str, object]) -> str:
    def part(value: dict[str, object] | dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


def test_alg_none_and_hs256_with_the_public_key_are_refused(jwks: Jwks) -> None:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 300}
    with pytest.raises(CallbackAuthError, match="not RS256"):
        verifier(jwks).verify(bearer(_unsigned({"alg": "none", "kid": jwks.kid}, claims)))
    forged = jwt.encode(
        claims, "public-key-as-hmac-secret-0123456789", algorithm="HS256", headers={"kid": jwks.kid}
    )
    with pytest.raises(CallbackAuthError, match="not RS256"):
        verifier(jwks).verify(bearer(forged))


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer not.a.jwt", "Bearer a.b"])
def test_missing_or_malformed_authorization_is_refused(jwks: Jwks, header: str | None) -> None:
    with pytest.raises(CallbackAuthError):
        verifier(jwks).verify(header)


def test_a_flood_of_unknown_kids_fetches_the_jwks_once_per_interval(jwks: Jwks) -> None:
    clock = Clock()
    checker = verifier(jwks, clock)
    before = jwks.fetches
    checker.verify(bearer(jwks.token(ISSUER, AUDIENCE)))  # first use: one fetch
    forged = [jwks.token(ISSUER, AUDIENCE, kid=f"attacker-{i}") for i in range(500)]

    def attempt(token: str) -> bool:
        try:
            checker.verify(bearer(token))
        except CallbackAuthError:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, forged))
    assert not any(results)
    assert jwks.fetches - before == 1
    assert checker.fetches == 1
    clock.now += 29.0
    assert not attempt(forged[0])
    assert jwks.fetches - before == 1  # still inside the 30 s interval
    clock.now += 1.0
    assert not any(attempt(t) for t in forged[:100])
    assert jwks.fetches - before == 2  # one refresh for the new interval, however many unknown kids
    checker.verify(bearer(jwks.token(ISSUER, AUDIENCE)))  # the genuine key still works, without a fetch
    assert jwks.fetches - before == 2


def test_a_rotated_key_is_picked_up_on_its_first_use(jwks: Jwks) -> None:
    clock = Clock()
    checker = verifier(jwks, clock)
    checker.verify(bearer(jwks.token(ISSUER, AUDIENCE)))
    old = list(jwks.keys)
    try:
        jwks.keys = [*old, {**old[0], "kid": "rotated"}]
        clock.now += 30
        checker.verify(bearer(jwks.token(ISSUER, AUDIENCE, kid="rotated")))
    finally:
        jwks.keys = old


def test_an_empty_jwks_answer_keeps_the_keys_already_known(jwks: Jwks) -> None:
    clock = Clock()
    checker = verifier(jwks, clock)
    checker.verify(bearer(jwks.token(ISSUER, AUDIENCE)))
    old = list(jwks.keys)
    try:
        jwks.keys = []
        clock.now += 60
        with pytest.raises(CallbackAuthError):
            checker.verify(bearer(jwks.token(ISSUER, AUDIENCE, kid="unknown")))  # triggers the empty fetch
        checker.verify(bearer(jwks.token(ISSUER, AUDIENCE)))
    finally:
        jwks.keys = old


def test_an_unreachable_jwks_endpoint_means_cannot_verify_now_not_a_crash(jwks: Jwks) -> None:
    checker = CallbackVerifier("http://127.0.0.1:9/keys", ISSUER, AUDIENCE, http=HTTP)
    with pytest.raises(KeysUnavailable):
        checker.verify(bearer(jwks.token(ISSUER, AUDIENCE)))
