"""The role matrix, decided once (contract.md: admin = everything; operator = manage calls, policies, legal
holds, no key management; auditor = read; service = the data plane) and checked as ONE table: every route of
the application against every role and no key, over HTTP; the OpenAPI document and the README say the same.
A route added without a row here fails the test."""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route

from recorder.adapters.identity import AcsIdentities, build_identity_client
from recorder.db.repositories.access import KeyRepository
from recorder.emulator import EmulatorConfig, start_emulator
from recorder.services.tokens.api_keys import Role, create_key
from tests.integration.compliance_world import A, B, NumberedAcs, record_call
from tests.security.jwks import jwks_server
from tests.security.world import World, make_world

README = Path(__file__).resolve().parents[2] / "README.md"
ADMIN, OPERATOR, AUDITOR, SERVICE = "admin", "operator", "auditor", "service"
READ = {ADMIN, OPERATOR, AUDITOR}
MANAGE = {ADMIN, OPERATOR}
DATA_PLANE = {ADMIN, OPERATOR, SERVICE}
# Routes an API key gives nothing on: what they answer to any bearer key, as to none.
PUBLIC, WEBHOOK, CONSOLE, METRICS = "public", "webhook", "console", "metrics"

MATRIX: dict[tuple[str, str], set[str] | str] = {
    ("GET", "/api/consents"): READ,
    ("GET", "/api/consents/export"): READ,
    ("GET", "/api/calls"): READ,
    ("GET", "/api/calls/{call_connection_id}"): READ,
    ("GET", "/api/calls/{call_connection_id}/evidence"): READ,
    ("GET", "/api/audit/verify"): READ,
    ("GET", "/api/exemptions"): READ,
    ("POST", "/api/calls/{call_connection_id}/legal-hold"): MANAGE,
    ("DELETE", "/api/calls/{call_connection_id}/legal-hold"): MANAGE,
    ("POST", "/api/calls/{call_connection_id}/grants"): MANAGE,
    ("DELETE", "/api/calls/{call_connection_id}/grants/{key_id}"): MANAGE,
    ("POST", "/api/erasures"): MANAGE,
    ("POST", "/api/tokens/revoke"): MANAGE,
    ("GET", "/api/keys"): {ADMIN},
    ("POST", "/api/keys"): {ADMIN},
    ("DELETE", "/api/keys/{key_id}"): {ADMIN},
    ("POST", "/api/exemptions"): {ADMIN},
    ("DELETE", "/api/exemptions/{identity}"): {ADMIN},
    ("POST", "/api/recordings"): DATA_PLANE,
    ("GET", "/api/recordings/{request_id}"): {ADMIN, OPERATOR, AUDITOR, SERVICE},
    ("DELETE", "/api/recordings/{request_id}"): DATA_PLANE,
    ("POST", "/api/calls"): DATA_PLANE,
    ("POST", "/api/tokens"): {ADMIN, SERVICE},
    ("GET", "/api/openapi.json"): PUBLIC,
    ("GET", "/api/docs"): PUBLIC,
    ("GET", "/api/docs/{asset}"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("POST", "/webhooks/eventgrid"): WEBHOOK,
    ("OPTIONS", "/webhooks/eventgrid"): WEBHOOK,
    ("POST", "/webhooks/acs/{call_id}"): WEBHOOK,
    ("GET", "/metrics"): METRICS,
    ("GET", "/console"): CONSOLE,
    ("GET", "/console/login"): CONSOLE,
    ("POST", "/console/login"): CONSOLE,
    ("POST", "/console/logout"): CONSOLE,
    ("GET", "/console/ledger"): CONSOLE,
    ("GET", "/console/calls"): CONSOLE,
    ("GET", "/console/calls/{call_connection_id}"): CONSOLE,
    ("GET", "/console/calls/{call_connection_id}/evidence"): CONSOLE,
    ("GET", "/console/calls/{call_connection_id}/evidence/print"): CONSOLE,
    ("GET", "/console/audit"): CONSOLE,
    ("GET", "/console/export"): CONSOLE,
}
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/calls/{call_connection_id}/legal-hold"): {"reason": "matrix"},
    ("POST", "/api/calls/{call_connection_id}/grants"): {"key_id": "{service_key_id}"},
    ("POST", "/api/erasures"): {"participant": "4:+19995550000"},
    ("POST", "/api/tokens/revoke"): {"identity": "8:acs:matrix_unknown"},
    ("POST", "/api/keys"): {"role": "auditor", "name": "matrix"},
    ("POST", "/api/exemptions"): {"identity": "8:acs:matrix_agent"},
    ("POST", "/api/recordings"): {"server_call_id": "matrix-server-call"},
    ("POST", "/api/calls"): {"target": "8:acs:matrix_target"},
    ("POST", "/api/tokens"): {"user_id": "matrix-agent"},
}
WHAT_AN_API_KEY_GETS = {PUBLIC: {200, 503}, WEBHOOK: {401}, CONSOLE: {200, 303, 403}, METRICS: {404}}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, dict[str, Any]]]:
    from recorder.db.migrate import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'recorder.db'}"
    upgrade(url)
    access_key = base64.b64encode(secrets.token_bytes(32)).decode()
    config = EmulatorConfig(access_key=access_key, resource_id="matrix")
    with jwks_server() as jwks, start_emulator(config) as emulator:
        identities = AcsIdentities(build_identity_client(emulator.url, access_key, None))
        w = make_world(url, jwks, acs=NumberedAcs(), identities=identities)
        record_call(w.container, 1, (A, B), "one", recorded=True)
        keys: dict[str, Any] = {}
        with w.container.sessions() as session:
            for role in Role:
                keys[role.value] = create_key(
                    KeyRepository(session), role, f"matrix {role}", datetime.now(UTC)
                )
            session.commit()
        try:
            yield w, keys
        finally:
            w.close()


def app_routes(world: World) -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for route in world.app.routes
        if isinstance(route, Route)
        for method in (route.methods or {"GET"})
        if method != "HEAD"
    }


def concrete(path: str, keys: dict[str, Any], n: int) -> str:
    values = {
        "call_connection_id": "conn-1",
        "key_id": keys[SERVICE][0] if "/grants/" in path else "no-such-key",  # never revoke a matrix key
        "request_id": f"no-such-request-{n}",
        "identity": "8:acs:matrix_agent",
        "call_id": "no-such-call",
        "asset": "LICENSE",
    }
    return re.sub(r"{(\w+)}", lambda m: values[m.group(1)], path)


def body_for(route: tuple[str, str], keys: dict[str, Any]) -> Any:
    body = BODIES.get(route)
    if isinstance(body, dict):
        return {k: keys[SERVICE][0] if v == "{service_key_id}" else v for k, v in body.items()}
    return body


def test_every_role_on_every_route(world: tuple[World, dict[str, Any]]) -> None:
    w, keys = world
    assert app_routes(w) == set(MATRIX), "every route has exactly one row in MATRIX"
    failures = []
    for n, (route, allowed) in enumerate(sorted(MATRIX.items())):
        method, template = route
        for who in [None, *(r.value for r in Role)]:
            headers = {"Authorization": f"Bearer {keys[who][1]}"} if who else {}
            path = concrete(template, keys, n)
            response = w.request(method, path, json=body_for(route, keys), headers=headers)
            status = response.status_code
            if isinstance(allowed, str):
                ok = status in WHAT_AN_API_KEY_GETS[allowed]
            elif who is None:
                ok = status == 401
            elif who in allowed:
                ok = status not in (401, 403) and (status < 500 or status == 502)
            else:
                ok = status == 403 and response.json()["error"]["code"] == "forbidden"
            if not ok:
                failures.append(f"{method} {template} as {who}: {status} {response.text[:120]}")
    assert failures == []


def test_the_openapi_document_says_the_same(world: tuple[World, dict[str, Any]]) -> None:
    w, _ = world
    document = w.request("GET", "/api/openapi.json").json()
    documented = {
        (method.upper(), path): set(operation["x-roles"])
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "x-roles" in operation
    }
    assert documented == {route: roles for route, roles in MATRIX.items() if isinstance(roles, set)}


def test_the_readme_says_the_same() -> None:
    role = "(?:admin|operator|auditor|service)"
    row = rf"^\| `(GET|POST|DELETE) (/api/[^`]*)` \| ({role}(?:, {role})*) \|$"
    rows = re.findall(row, README.read_text(), re.M)
    written = {(method, path): set(roles.split(", ")) for method, path, roles in rows}
    assert written == {route: roles for route, roles in MATRIX.items() if isinstance(roles, set)}
