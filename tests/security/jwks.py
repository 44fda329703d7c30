"""A real JWKS endpoint on a local port that counts its fetches (and can fail or stall on demand), and a key
that signs tokens it publishes."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.e2e.stack import free_port


@dataclass
class Jwks:
    url: str
    key: rsa.RSAPrivateKey
    kid: str = "test-key"
    fetches: int = 0
    keys: list[dict[str, Any]] = field(default_factory=list)
    failing: bool = False  # answer 503, as an endpoint having a bad moment
    gate: threading.Event | None = None  # hold each answer until the test sets it

    def publish(self) -> None:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        self.keys = [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]

    def token(self, issuer: str, audience: str, *, kid: str | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": issuer, "aud": audience, "iat": now, "nbf": now, "exp": now + 300, **claims}
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": kid or self.kid})


@contextmanager
def jwks_server() -> Iterator[Jwks]:
    port = free_port()
    jwks = Jwks(
        f"http://127.0.0.1:{port}/keys", rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    jwks.publish()

    async def keys(request: Request) -> JSONResponse:
        jwks.fetches += 1
        if jwks.gate is not None:
            await asyncio.get_running_loop().run_in_executor(None, jwks.gate.wait, 10)
        if jwks.failing:
            return JSONResponse({"error": "unavailable"}, status_code=503)
        return JSONResponse({"keys": jwks.keys})

    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/keys", keys)]), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield jwks
    finally:
        server.should_exit = True
        thread.join(5)
