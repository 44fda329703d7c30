"""The emulator's callback signing key: RS256 JWTs on callbacks, and the JWKS that verifies them."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

TOKEN_LIFETIME_S = 300
REUSE_MARGIN_S = 60  # a cached callback token is replaced this long before it expires


def _b64url_uint(value: int) -> str:
    data = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class CallbackSigner:
    """An RSA-2048 key made at start-up; its ``kid`` is the RFC 7638 thumbprint of the public key."""

    def __init__(self) -> None:
        self._private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self._private_key.public_key().public_numbers()
        self._n = _b64url_uint(numbers.n)
        self._e = _b64url_uint(numbers.e)
        thumbprint_input = json.dumps({"e": self._e, "kty": "RSA", "n": self._n}, separators=(",", ":"))
        digest = hashlib.sha256(thumbprint_input.encode("ascii")).digest()
        self.kid = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        self._cached: dict[tuple[str, str], tuple[str, float]] = {}

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {"kty": "RSA", "n": self._n, "e": self._e, "kid": self.kid, "alg": "RS256", "use": "sig"}
            ]
        }

    def reusable_token(self, *, issuer: str, audience: str) -> str:
        """A callback token reused within its lifetime, as a real issuer's is: RS256 signing every callback
        made the emulator the bottleneck of the benchmarks that measure the service."""
        now = time.time()
        cached = self._cached.get((issuer, audience))
        if cached is not None and cached[1] - REUSE_MARGIN_S > now:
            return cached[0]
        token = self.token(issuer=issuer, audience=audience, now=now)
        self._cached[(issuer, audience)] = (token, int(now) + TOKEN_LIFETIME_S)
        return token

    def token(
        self,
        *,
        issuer: str,
        audience: str,
        now: float | None = None,
        lifetime_s: int = TOKEN_LIFETIME_S,
        extra: dict[str, Any] | None = None,
    ) -> str:
        issued_at = int(time.time() if now is None else now)
        claims = {
            "iss": issuer,
            "aud": audience,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + lifetime_s,
            **(extra or {}),
        }
        return jwt.encode(claims, self._private_key, algorithm="RS256", headers={"kid": self.kid})


def openid_configuration(issuer: str, base_url: str) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "jwks_uri": f"{base_url}/calling/keys",
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
    }
