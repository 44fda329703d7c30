"""Agent identities: one application cannot reach another's agents by asking for the same user id, and a
token makes nobody exempt from consent; an admin registers exempt agents (API and CLI), audited. ACS
identities come from the emulator over HTTP, through the real Identity SDK."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text

from recorder import cli
from recorder.adapters.identity import AcsIdentities, build_identity_client
from recorder.db.engine import make_engine, session_factory
from recorder.db.migrate import upgrade
from recorder.db.repositories.access import KeyRepository
from recorder.db.repositories.audit import AuditRepository
from recorder.db.tables.audit import AuditEntry
from recorder.db.tables.calls import ConsentEntry
from recorder.domain import events as ev
from recorder.emulator import EmulatorConfig, RunningEmulator, start_emulator
from recorder.services.calls.consent_flow import IncomingCall
from recorder.services.tokens.api_keys import Role, create_key
from tests.integration.compliance_world import NumberedAcs
from tests.integration.test_call_service_db import drain
from tests.security.jwks import Jwks
from tests.security.world import World, make_world, settings_for

CALLER = "4:+14255550101"


@pytest.fixture(scope="module")
def emulator() -> Iterator[tuple[RunningEmulator, str]]:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    with start_emulator(EmulatorConfig(access_key=key, resource_id="agents-test")) as running:
        yield running, key


@pytest.fixture
def world(database_url: str, jwks: Jwks, emulator: tuple[RunningEmulator, str]) -> Iterator[World]:
    running, key = emulator
    identities = AcsIdentities(build_identity_client(running.url, key, None))
    w = make_world(database_url, jwks, identities=identities, acs=NumberedAcs())
    yield w
    w.close()


def keys(world: World) -> dict[str, tuple[str, dict[str, str]]]:
    """role name -> (key id, headers); two service keys, as two applications would have."""
    made = {}
    with world.container.sessions() as session:
        for name, role in (("app-a", Role.SERVICE), ("app-b", Role.SERVICE), ("admin", Role.ADMIN)):
            key_id, key = create_key(KeyRepository(session), role, name, datetime.now(UTC))
            made[name] = (key_id, {"Authorization": f"Bearer {key}"})
        for role in (Role.OPERATOR, Role.AUDITOR):
            key_id, key = create_key(KeyRepository(session), role, role.value, datetime.now(UTC))
            made[role.value] = (key_id, {"Authorization": f"Bearer {key}"})
        session.commit()
    return made


def token_for(world: World, headers: dict[str, str], user_id: str) -> dict[str, Any]:
    response = world.request("POST", "/api/tokens", json={"user_id": user_id}, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_two_applications_asking_for_the_same_user_id_get_two_identities(world: World) -> None:
    made = keys(world)
    alice_a = token_for(world, made["app-a"][1], "agent-alice")["identity"]
    alice_b = token_for(world, made["app-b"][1], "agent-alice")["identity"]
    assert alice_a != alice_b
    assert token_for(world, made["app-a"][1], "agent-alice")["identity"] == alice_a  # reused per key
    revoked = world.request(
        "POST", "/api/tokens/revoke", json={"identity": alice_b}, headers=made["admin"][1]
    )
    assert revoked.status_code == 200  # an operator or admin still revokes by identity


def joins(world: World, n: int, people: tuple[str, ...]) -> dict[str, tuple[str, str | None]]:
    """An inbound call that ``people`` join; each one's consent state and exemption reason."""
    calls = world.container.calls
    _, call_id = calls.incoming_call(IncomingCall(f"eg-{n}", f"server-{n}", "ctx", people[0], None, None))
    assert call_id is not None
    drain(world.container.dispatcher)
    now = datetime.now(UTC)
    calls.apply(call_id, f"c{n}", "CallConnected", ev.CallConnected(now, f"conn-{n}"))
    calls.apply(call_id, f"p{n}", "ParticipantsUpdated", ev.ParticipantsUpdated(now, 1, people))
    with world.container.unit_of_work() as uow:
        state = uow.calls.get(call_id)
        entries = uow.session.scalars(select(ConsentEntry).where(ConsentEntry.call_id == call_id))
        exempt = {e.participant: e.reason for e in entries}
    assert state is not None
    return {p.raw_id: (p.consent, exempt.get(p.raw_id)) for p in state.participants}


def test_a_token_exempts_nobody_an_admin_registration_does(world: World) -> None:
    made = keys(world)
    minted = token_for(world, made["app-a"][1], "not-really-an-agent")["identity"]
    assert joins(world, 1, (CALLER, minted))[minted] == ("prompted", None)

    for role in ("app-a", "operator", "auditor"):
        refused = world.request("POST", "/api/exemptions", json={"identity": minted}, headers=made[role][1])
        assert refused.status_code == 403, (role, refused.text)
    registered = world.request(
        "POST",
        "/api/exemptions",
        json={"identity": minted, "reason": "night shift"},
        headers=made["admin"][1],
    )
    assert registered.status_code == 201, registered.text
    assert joins(world, 2, (CALLER, minted))[minted] == ("exempt", "night shift")

    listed = world.request("GET", "/api/exemptions", headers=made["auditor"][1]).json()["items"]
    assert [(i["identity"], i["reason"], i["registered_by"]) for i in listed] == [
        (minted, "night shift", f"key:{made['admin'][0]}")
    ]
    removed = world.request("DELETE", f"/api/exemptions/{minted}", headers=made["admin"][1])
    assert removed.status_code == 200
    assert joins(world, 3, (CALLER, minted))[minted] == ("prompted", None)
    with world.container.unit_of_work() as uow:
        agents_audit = select(AuditEntry.action).where(AuditEntry.action.like("agents.%"))
        actions = uow.session.scalars(agents_audit.order_by(AuditEntry.seq))
        assert list(actions) == ["agents.exempted", "agents.exemption_removed"]


BAD_REGISTRATIONS: list[dict[str, Any]] = [
    {},
    {"identity": "alice"},
    {"identity": "8:acs:" + "x" * 300},
    {"identity": "8:acs:ok", "reason": ""},
    {"identity": "8:acs:ok", "reason": "\u0000"},
    {"identity": 7},
]


def test_bad_registrations_are_400_and_change_nothing(world: World) -> None:
    made = keys(world)
    before = world.snapshot()
    for body in BAD_REGISTRATIONS:
        response = world.request("POST", "/api/exemptions", json=body, headers=made["admin"][1])
        assert response.status_code == 400, (body, response.text)
    assert world.snapshot() == before


def test_the_configuration_exempt_list_still_applies_and_its_reason_wins(
    database_url: str, jwks: Jwks
) -> None:
    configured = "8:acs:supervisor"
    settings = settings_for(database_url, jwks)
    policy = replace(settings.policy, exempt={configured: "supervisor-monitoring"})
    w = make_world(database_url, jwks, settings=replace(settings, policy=policy), acs=NumberedAcs())
    try:
        made = keys(w)
        w.request(
            "POST",
            "/api/exemptions",
            json={"identity": configured, "reason": "other"},
            headers=made["admin"][1],
        )
        assert joins(w, 1, (CALLER, configured))[configured] == ("exempt", "supervisor-monitoring")
    finally:
        w.close()


def test_the_cli_registers_lists_and_removes_exemptions(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECORDER_DATABASE_URL", database_url)
    identity = "8:acs:resource_agent-7"

    def run(*argv: str) -> tuple[int, Any]:
        code = cli.main(list(argv))
        out = capsys.readouterr().out.strip().splitlines()
        return code, json.loads(out[-1]) if out and out[-1].startswith("{") else out

    assert run("agents", "exempt", identity, "--reason", "agent-desk", "--json")[0] == 0
    code, listed = run("agents", "list", "--json")
    assert code == 0
    assert [(e["identity"], e["reason"], e["registered_by"]) for e in listed["exemptions"]] == [
        (identity, "agent-desk", "cli")
    ]
    assert run("agents", "exempt", "not-an-id")[0] == 2
    assert run("agents", "unexempt", identity, "--json") == (
        0,
        {"ok": True, "identity": identity, "removed": True},
    )
    assert run("agents", "unexempt", identity)[0] == 1


def test_the_upgrade_gives_each_existing_identity_to_the_key_that_created_it(empty_database_url: str) -> None:
    """Before 0012 user ids were global; the audit chain's tokens.issued entries say which key made each."""
    url = empty_database_url
    upgrade(url, "0010")
    engine = make_engine(url)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        for user_id, identity in (("agent-1", "8:acs:r_1"), ("agent-2", "8:acs:r_2")):
            connection.execute(
                text("INSERT INTO agent_identities (user_id, acs_identity, created_at) VALUES (:u, :i, :at)"),
                {"u": user_id, "i": identity, "at": now},
            )
    with session_factory(engine)() as session:
        data = {"identity": "8:acs:r_1", "identity_created": True}
        AuditRepository(session).append("key:app-a", "tokens.issued", None, data, now)
        AuditRepository(session).append("key:app-b", "tokens.issued", None, data, now)  # reuse: not the maker
        session.commit()
    upgrade(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT owner, user_id FROM agent_identities ORDER BY user_id")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("key:app-a", "agent-1"), ("legacy", "agent-2")]
