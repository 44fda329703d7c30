"""A service key acts only on calls it started or was granted: it cannot attach a recording request to
someone else's live call (by call_connection_id or server_call_id), read that call's consent-derived state,
or stop its recording. Operators and admins grant (and take back) access, audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from recorder.db.repositories.access import KeyRepository
from recorder.db.tables.audit import AuditEntry
from recorder.db.tables.recording_requests import RecordingRequest
from recorder.services.tokens.api_keys import Role, create_key
from tests.integration.compliance_world import A, B, NumberedAcs, record_call
from tests.security.jwks import Jwks
from tests.security.world import World, make_world

Keys = dict[str, tuple[str, dict[str, str]]]


@pytest.fixture
def world(database_url: str, jwks: Jwks) -> Iterator[World]:
    w = make_world(database_url, jwks, acs=NumberedAcs())
    record_call(w.container, 1, (A, B), "one", recorded=True)  # an inbound call, consented and recording
    yield w
    w.close()


@pytest.fixture
def keys(world: World) -> Keys:
    made = {}
    with world.container.sessions() as session:
        for name, role in (("app-a", Role.SERVICE), ("app-b", Role.SERVICE), ("operator", Role.OPERATOR)):
            key_id, key = create_key(KeyRepository(session), role, name, datetime.now(UTC))
            made[name] = (key_id, {"Authorization": f"Bearer {key}"})
        session.commit()
    return made


def ask(world: World, keys: Keys, who: str, body: dict[str, str]) -> tuple[int, dict[str, Any]]:
    response = world.request("POST", "/api/recordings", json=body, headers=keys[who][1])
    return response.status_code, response.json()


def test_a_service_key_cannot_attach_to_a_call_it_did_not_start(world: World, keys: Keys) -> None:
    before = world.snapshot()
    status, body = ask(world, keys, "app-a", {"call_connection_id": "conn-1"})
    assert (status, body["error"]["code"]) == (404, "unknown_call"), body  # as if the call did not exist
    assert "state" not in body
    status, body = ask(world, keys, "app-a", {"server_call_id": "server-1"})
    assert (status, body["error"]["code"]) == (409, "call_not_granted"), body
    assert "state" not in body
    assert world.snapshot() == before


def test_a_call_one_key_connected_is_not_another_keys(world: World, keys: Keys) -> None:
    status, first = ask(world, keys, "app-a", {"server_call_id": "server-new"})
    assert status == 202 and first["kind"] == "connect"
    status, refused = ask(world, keys, "app-b", {"server_call_id": "server-new"})
    assert (status, refused["error"]["code"]) == (409, "call_not_granted")
    status, again = ask(world, keys, "app-a", {"server_call_id": "server-new"})
    assert status == 202 and again["kind"] == "existing"  # its own call: a second request is fine
    stopped = world.request("DELETE", f"/api/recordings/{first['id']}", headers=keys["app-b"][1])
    assert stopped.status_code == 404  # nor can it stop another app's request


def test_an_operator_grant_lets_a_key_act_and_its_removal_stops_it(world: World, keys: Keys) -> None:
    app_id = keys["app-a"][0]
    grants = "/api/calls/conn-1/grants"
    refused = world.request("POST", grants, json={"key_id": app_id}, headers=keys["app-b"][1])
    assert refused.status_code == 403  # a service key cannot grant itself anything
    unknown = world.request("POST", grants, json={"key_id": "no-such-key"}, headers=keys["operator"][1])
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_key")
    granted = world.request("POST", grants, json={"key_id": app_id}, headers=keys["operator"][1])
    assert granted.status_code == 201, granted.text
    status, attached = ask(world, keys, "app-a", {"call_connection_id": "conn-1"})
    assert status == 202 and attached["state"] == "recording"
    revoked = world.request("DELETE", f"{grants}/{app_id}", headers=keys["operator"][1])
    assert revoked.status_code == 200
    read = world.request("GET", f"/api/recordings/{attached['id']}", headers=keys["app-a"][1])
    assert (read.status_code, read.json()["error"]["code"]) == (403, "call_not_granted")
    with world.container.sessions() as session:
        granting = select(AuditEntry.action).where(AuditEntry.action.like("calls.grant%"))
        actions = session.scalars(granting.order_by(AuditEntry.seq))
        assert list(actions) == ["calls.granted", "calls.grant_revoked"]


def test_a_request_attached_before_grants_existed_can_neither_read_nor_stop(world: World, keys: Keys) -> None:
    """What an attacker attached under the old rules keeps no power after the upgrade."""
    with world.container.unit_of_work() as uow:
        call_id = uow.calls.id_for_connection("conn-1")
        assert call_id is not None
        now = datetime.now(UTC)
        uow.session.add(
            RecordingRequest(
                id="hijack-1",
                key_id=keys["app-b"][0],
                idempotency_key="k",
                fingerprint="f",
                kind="existing",
                call_id=call_id,
                call_connection_id="conn-1",
                state="open",
                created_at=now,
                updated_at=now,
            )
        )
        uow.commit()
    before = world.snapshot()
    for method in ("GET", "DELETE"):
        response = world.request(method, "/api/recordings/hijack-1", headers=keys["app-b"][1])
        assert (response.status_code, response.json()["error"]["code"]) == (403, "call_not_granted")
        assert "state" not in response.json()
    assert world.snapshot() == before  # the call's recording was not stopped
