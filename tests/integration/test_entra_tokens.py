"""Entra ID bearer tokens against a local JWKS server and a locally generated RSA key: issuer, audience,
signature, expiry, and app roles mapped to our roles; API keys keep working beside them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from recorder.config.compliance import DEFAULT_ENTRA_ROLES, EntraSettings
from recorder.config.settings import Settings
from tests.e2e.stack import free_port
from tests.integration.compliance_world import World, make_world
from tests.unit.test_consent import POLICY

ISSUER = "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/v2.0"
AUDIENCE = "api://recorder"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    jwk = {**json.loads(RSAAlgorithm.to_jwk(KEY.public_key())), "kid": "k1", "alg": "RS256", "use": "sig"}

    async def keys(request: Request) -> JSONResponse:
        return JSONResponse({"keys": [jwk]})

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(Starlette(routes=[Route("/keys", keys)]), port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/keys"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def world(database_url: str, jwks_url: str) -> Iterator[World]:
    entra = EntraSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_url, roles=DEFAULT_ENTRA_ROLES)
    yield from make_world(database_url, Settings(database_url=database_url, policy=POLICY, entra=entra))


def token(key: Any = KEY, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 600, "oid": "user-1"}
    claims.update(overrides)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


def status(world: World, path: str, bearer: str) -> int:
    return world.client.get(path, headers={"Authorization": f"Bearer {bearer}"}).status_code


def test_app_roles_map_to_our_roles(world: World) -> None:
    auditor = token(roles=["Recorder.Auditor"])
    assert status(world, "/api/consents", auditor) == 200
    assert status(world, "/api/keys", auditor) == 403
    admin = token(roles=["Recorder.Auditor", "Recorder.Admin"])
    assert status(world, "/api/keys", admin) == 200
    assert status(world, "/api/consents", token(roles=["Recorder.Service"])) == 403
    assert status(world, "/api/consents", token(roles=["Some.Other.Role"])) == 403
    assert status(world, "/api/consents", world.keys["auditor"]) == 200  # API keys still work
    with world.container.sessions() as session:
        from sqlalchemy import select

        from recorder.db.tables.audit import AuditEntry

        actors = set(
            session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "api.consents.read"))
        )
    assert "key:entra:user-1" in actors


def test_bad_tokens_are_401(world: World) -> None:
    roles = ["Recorder.Admin"]
    for bad in (
        token(OTHER_KEY, roles=roles),
        token(roles=roles, iss="https://evil.example/v2.0"),
        token(roles=roles, aud="api://someone-else"),
        token(roles=roles, exp=int(time.time()) - 3600),
        "a.b.c",
    ):
        assert status(world, "/api/consents", bad) == 401
