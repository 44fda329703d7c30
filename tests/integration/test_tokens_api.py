"""POST /api/tokens and /api/tokens/revoke over HTTP: roles, input checks, answers; ACS is the emulator."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from recorder import bootstrap
from recorder.config.settings import Settings
from recorder.db.repositories.access import KeyRepository
from recorder.db.tables.audit import AuditEntry
from recorder.db.tables.identities import AgentIdentity
from recorder.emulator import EmulatorConfig, RunningEmulator, start_emulator
from recorder.emulator.server import serve_in_thread
from recorder.services.tokens.api_keys import Role, create_key
from recorder.web.app import create_app

RESOURCE_ID = "tokens-api-test"


@pytest.fixture(scope="module")
def access_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture(scope="module")
def emulator(access_key: str) -> Iterator[RunningEmulator]:
    with start_emulator(EmulatorConfig(access_key=access_key, resource_id=RESOURCE_ID)) as running:
        yield running


class Api:
    def __init__(self, client: httpx.Client, container: bootstrap.Container) -> None:
        self.client = client
        self.container = container
        self.keys: dict[Role, str] = {}
        with container.sessions() as session:
            for role in Role:
                self.keys[role] = create_key(KeyRepository(session), role, f"test {role}", datetime.now(UTC))[
                    1
                ]
            session.commit()

    def post(self, path: str, body: Any, role: Role | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        if isinstance(body, bytes | str):
            return self.client.post(path, content=body, headers=headers, **kwargs)
        return self.client.post(path, json=body, headers=headers, **kwargs)

    def issue(self, user_id: str = "agent-1") -> dict[str, Any]:
        response = self.post("/api/tokens", {"user_id": user_id}, Role.SERVICE)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def count(self, model: Any) -> int:
        with self.container.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    def token_audits(self) -> list[str]:
        with self.container.sessions() as session:
            query = select(AuditEntry.action).where(AuditEntry.action.like("tokens.%"))
            actions = session.scalars(query.order_by(AuditEntry.seq))
            return list(actions)


def make_api(database_url: str, emulator: RunningEmulator, access_key: str, **settings: Any) -> Iterator[Api]:
    container = bootstrap.build(
        Settings(
            database_url=database_url,
            acs_endpoint=emulator.url,
            acs_access_key=access_key,
            acs_resource_id=RESOURCE_ID,
            public_url="http://127.0.0.1:9",
            callback_jwks_url=emulator.jwks_url,
            callback_issuer=emulator.issuer,
            eventgrid_secret="s" * 24,
            **settings,
        )
    )
    server = serve_in_thread(create_app(container, run_dispatcher=False))
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=30) as client:
            yield Api(client, container)
    finally:
        server.stop()


@pytest.fixture
def api(database_url: str, emulator: RunningEmulator, access_key: str) -> Iterator[Api]:
    yield from make_api(database_url, emulator, access_key)


def verify(emulator: RunningEmulator, token: str) -> dict[str, Any]:
    result: dict[str, Any] = httpx.post(
        f"{emulator.url}/emulator/tokens:verify", json={"token": token}, timeout=10
    ).json()
    return result


def test_a_service_key_gets_a_token_its_expiry_and_the_identity(api: Api, emulator: RunningEmulator) -> None:
    before = datetime.now(UTC)
    response = api.post("/api/tokens", {"user_id": "alice@contoso.example"}, Role.SERVICE)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"token", "expires_on", "identity"}
    assert body["identity"].startswith(f"8:acs:{RESOURCE_ID}_")
    assert body["expires_on"].endswith("Z")
    expires_on = datetime.fromisoformat(body["expires_on"].replace("Z", "+00:00"))
    assert timedelta(minutes=59) < expires_on - before <= timedelta(minutes=60, seconds=5)
    assert verify(emulator, body["token"]) == {
        "valid": True,
        "identity": body["identity"],
        "scopes": ["voip"],
        "exp": int(expires_on.timestamp()),
    }


def test_the_same_user_id_keeps_its_identity_and_a_refresh_gets_a_new_token(api: Api) -> None:
    first, second = api.issue("agent-1"), api.issue("agent-1")
    assert first["identity"] == second["identity"]
    assert first["token"] != second["token"]
    assert second["expires_on"] >= first["expires_on"]
    assert api.issue("agent-2")["identity"] != first["identity"]


def test_an_operator_or_an_admin_revokes_an_identitys_tokens(api: Api, emulator: RunningEmulator) -> None:
    issued = api.issue("agent-1")
    response = api.post("/api/tokens/revoke", {"identity": issued["identity"]}, Role.OPERATOR)
    assert response.status_code == 200, response.text
    assert response.json() == {"identity": issued["identity"], "revoked": True}
    assert verify(emulator, issued["token"])["reason"] == "revoked"
    fresh = api.issue("agent-1")
    assert verify(emulator, fresh["token"])["valid"] is True
    assert api.post("/api/tokens/revoke", {"identity": issued["identity"]}, Role.ADMIN).status_code == 200
    assert verify(emulator, fresh["token"])["reason"] == "revoked"
    assert api.token_audits() == ["tokens.issued", "tokens.revoked", "tokens.issued", "tokens.revoked"]


@pytest.mark.parametrize(
    ("path", "body", "role", "status"),
    [
        ("/api/tokens", {"user_id": "agent-1"}, None, 401),
        ("/api/tokens", {"user_id": "agent-1"}, Role.AUDITOR, 403),
        ("/api/tokens", {"user_id": "agent-1"}, Role.OPERATOR, 403),
        ("/api/tokens/revoke", {"identity": "8:acs:x_y"}, None, 401),
        ("/api/tokens/revoke", {"identity": "8:acs:x_y"}, Role.SERVICE, 403),
        ("/api/tokens/revoke", {"identity": "8:acs:x_y"}, Role.AUDITOR, 403),
    ],
)
def test_roles_are_enforced(
    api: Api, path: str, body: dict[str, str], role: Role | None, status: int
) -> None:
    response = api.post(path, body, role)
    assert response.status_code == status
    assert response.json()["error"]["code"] == {401: "unauthorized", 403: "forbidden"}[status]
    assert api.count(AgentIdentity) == 0
    assert api.token_audits() == []


def test_a_wrong_key_is_401(api: Api) -> None:
    response = api.client.post(
        "/api/tokens", json={"user_id": "agent-1"}, headers={"Authorization": "Bearer rk_nope"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        [],
        {},
        {"user_id": ""},
        {"user_id": 42},
        {"user_id": None},
        {"user_id": "a" * 129},
        {"user_id": "has space"},
        {"user_id": "../etc/passwd"},
        {"user_id": "-leading-dash"},
        {"user_id": "caf\u00e9"},
    ],
)
def test_bad_user_ids_are_400_and_change_nothing(api: Api, body: Any) -> None:
    response = api.post("/api/tokens", body, Role.SERVICE)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in {"malformed_json", "invalid_body", "invalid_user_id"}
    assert api.count(AgentIdentity) == 0
    assert api.token_audits() == []


def test_the_longest_allowed_user_id_works(api: Api) -> None:
    assert api.issue("a" * 128)["identity"].startswith("8:acs:")


@pytest.mark.parametrize(
    "body",
    [{}, {"identity": ""}, {"identity": "4:+14255550101"}, {"identity": "8:acs:"}, {"identity": ["8:acs:x"]}],
)
def test_bad_identities_are_400(api: Api, body: Any) -> None:
    response = api.post("/api/tokens/revoke", body, Role.OPERATOR)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_identity"


def test_revoking_an_identity_this_service_never_issued_is_404(api: Api) -> None:
    response = api.post("/api/tokens/revoke", {"identity": f"8:acs:{RESOURCE_ID}_unknown"}, Role.OPERATOR)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_identity"
    assert api.token_audits() == []


def test_an_oversized_body_is_413(api: Api) -> None:
    response = api.post("/api/tokens", {"user_id": "a", "padding": "x" * 5000}, Role.SERVICE)
    assert response.status_code == 413


def test_the_lifetime_comes_from_configuration(
    database_url: str, emulator: RunningEmulator, access_key: str
) -> None:
    for api in make_api(database_url, emulator, access_key, token_lifetime_minutes=180):
        expires_on = datetime.fromisoformat(api.issue()["expires_on"].replace("Z", "+00:00"))
        assert timedelta(minutes=179) < expires_on - datetime.now(UTC) <= timedelta(minutes=180)
