"""The token service on real SQLite and PostgreSQL, with the real identity SDK talking to the emulator."""

from __future__ import annotations

import base64
import secrets
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from recorder.adapters.identity import AcsIdentities, build_identity_client
from recorder.db.engine import make_engine, session_factory
from recorder.db.repositories.agents import AgentRepository
from recorder.db.tables.audit import AuditEntry
from recorder.db.tables.calls import ConsentEntry
from recorder.db.tables.identities import AgentIdentity
from recorder.db.unit_of_work import UnitOfWork
from recorder.domain import events as ev
from recorder.emulator import EmulatorConfig, RunningEmulator, start_emulator
from recorder.services.calls import agents
from recorder.services.calls.agents import AGENT_REASON
from recorder.services.calls.consent_flow import CallService, IncomingCall, exempting_known_agents
from recorder.services.errors import NotFound, ServiceError, UpstreamFailed
from recorder.services.tokens.ports import AccessToken
from recorder.services.tokens.user_tokens import TokenService
from tests.unit.test_consent import POLICY

RESOURCE_ID = "token-service-test"
ACTOR = "key:test-service"


@pytest.fixture(scope="module")
def access_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture(scope="module")
def emulator(access_key: str) -> Iterator[RunningEmulator]:
    with start_emulator(EmulatorConfig(access_key=access_key, resource_id=RESOURCE_ID)) as running:
        yield running


@pytest.fixture
def acs(emulator: RunningEmulator, access_key: str) -> AcsIdentities:
    return AcsIdentities(build_identity_client(emulator.url, access_key, None))


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine: Engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


def service(sessions: sessionmaker[Session], acs: Any, minutes: int = 60) -> TokenService:
    return TokenService(lambda: UnitOfWork(sessions), acs, minutes, lambda: datetime.now(UTC))


def emulated_identities(emulator: RunningEmulator) -> dict[str, dict[str, Any]]:
    return {i["identity"]: i for i in httpx.get(f"{emulator.url}/emulator/identities", timeout=10).json()}


def verify(emulator: RunningEmulator, token: str) -> dict[str, Any]:
    result: dict[str, Any] = httpx.post(
        f"{emulator.url}/emulator/tokens:verify", json={"token": token}, timeout=10
    ).json()
    return result


def test_the_first_token_creates_the_identity_and_later_ones_reuse_it(
    sessions: sessionmaker[Session], acs: AcsIdentities, emulator: RunningEmulator
) -> None:
    tokens = service(sessions, acs)
    first = tokens.issue("agent-007", ACTOR)
    again = tokens.issue("agent-007", ACTOR)
    other = tokens.issue("agent-008", ACTOR)

    assert first.identity == again.identity != other.identity
    assert first.token != again.token
    assert verify(emulator, again.token)["valid"] is True
    assert timedelta(minutes=59) < first.expires_on - datetime.now(UTC) <= timedelta(minutes=60)
    with sessions() as session:
        row = session.get_one(AgentIdentity, (ACTOR, "agent-007"))
        assert row.acs_identity == first.identity
        assert row.last_issued_at is not None and row.last_issued_at >= row.created_at
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "tokens.issued").order_by(AuditEntry.seq)
        ).all()
    assert [(a.actor, a.data["identity"], a.data["identity_created"]) for a in audit] == [
        (ACTOR, first.identity, True),
        (ACTOR, first.identity, False),
        (ACTOR, other.identity, True),
    ]
    assert audit[0].data["expires_on"] == first.expires_on.isoformat()
    assert all(t.token not in str(a.data) for a in audit for t in (first, again, other))


def test_the_configured_lifetime_is_what_acs_is_asked_for(
    sessions: sessionmaker[Session], acs: AcsIdentities
) -> None:
    issued = service(sessions, acs, minutes=1440).issue("night-shift", ACTOR)
    assert timedelta(hours=23, minutes=59) < issued.expires_on - datetime.now(UTC) <= timedelta(hours=24)


class RacingIdentities:
    """The real adapter, but every caller must have asked ACS for an identity before any gets one back,
    so concurrent first requests for one user id all reach the insert."""

    def __init__(self, real: AcsIdentities, parties: int) -> None:
        self.real = real
        self.barrier = threading.Barrier(parties, timeout=20)
        self.deleted: list[str] = []

    def create_identity(self) -> str:
        self.barrier.wait()
        return self.real.create_identity()

    def issue_voip_token(self, identity: str, lifetime: timedelta) -> AccessToken:
        return self.real.issue_voip_token(identity, lifetime)

    def revoke_tokens(self, identity: str) -> None:
        self.real.revoke_tokens(identity)

    def delete_identity(self, identity: str) -> None:
        self.deleted.append(identity)
        self.real.delete_identity(identity)


def test_concurrent_first_requests_for_one_user_end_with_one_identity(
    sessions: sessionmaker[Session], acs: AcsIdentities, emulator: RunningEmulator
) -> None:
    parties = 6
    racing = RacingIdentities(acs, parties)
    tokens = service(sessions, racing)
    known_before = set(emulated_identities(emulator))
    with ThreadPoolExecutor(parties) as pool:
        issued = list(pool.map(lambda _: tokens.issue("agent-racer", ACTOR), range(parties)))

    identities = {i.identity for i in issued}
    assert len(identities) == 1
    (identity,) = identities
    assert len(racing.deleted) == parties - 1 and identity not in racing.deleted
    assert set(emulated_identities(emulator)) - known_before == {identity}
    assert all(verify(emulator, i.token)["valid"] for i in issued)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AgentIdentity)) == 1
        created = session.scalars(select(AuditEntry).where(AuditEntry.action == "tokens.issued")).all()
    assert sum(1 for a in created if a.data["identity_created"]) == 1


def test_revoking_goes_through_acs_and_is_audited(
    sessions: sessionmaker[Session], acs: AcsIdentities, emulator: RunningEmulator
) -> None:
    tokens = service(sessions, acs)
    issued = tokens.issue("agent-revoked", ACTOR)
    tokens.revoke(issued.identity, "key:test-operator")
    assert verify(emulator, issued.token)["reason"] == "revoked"
    assert verify(emulator, tokens.issue("agent-revoked", ACTOR).token)["valid"] is True
    with sessions() as session:
        (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "tokens.revoked")).all()
    assert (entry.actor, entry.data) == ("key:test-operator", {"identity": issued.identity})


def test_identities_this_service_did_not_issue_are_not_revoked(
    sessions: sessionmaker[Session], acs: AcsIdentities, emulator: RunningEmulator
) -> None:
    foreign = acs.create_identity()
    foreign_token = acs.issue_voip_token(foreign, timedelta(minutes=60))
    with pytest.raises(ServiceError) as refused:
        service(sessions, acs).revoke(foreign, "key:test-operator")
    assert (type(refused.value), refused.value.code) == (NotFound, "unknown_identity")
    assert verify(emulator, foreign_token.token)["valid"] is True
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_acs_being_unreachable_is_a_502_and_writes_nothing(sessions: sessionmaker[Session]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    unreachable = AcsIdentities(
        build_identity_client(closed, base64.b64encode(b"k" * 32).decode(), None),
    )
    with pytest.raises(ServiceError) as failed:
        service(sessions, unreachable).issue("agent-offline", ACTOR)
    assert (type(failed.value), failed.value.code) == (UpstreamFailed, "acs_unavailable")
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AgentIdentity)) == 0
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def register(sessions: sessionmaker[Session], *identities: str) -> None:
    with UnitOfWork(sessions) as uow:
        for identity in identities:
            agents.register(uow, identity, AGENT_REASON, "key:admin", datetime.now(UTC))
        uow.commit()


def test_a_registered_agent_joining_a_call_is_exempt_and_a_stranger_is_prompted(
    sessions: sessionmaker[Session], acs: AcsIdentities
) -> None:
    agent = service(sessions, acs).issue("agent-on-call", ACTOR).identity
    register(sessions, agent)
    stranger = f"8:acs:{RESOURCE_ID}_not-an-agent"
    calls = CallService(lambda: UnitOfWork(sessions), POLICY, lambda: datetime.now(UTC))
    _, call_id = calls.incoming_call(IncomingCall("eg-1", "server-1", "ctx", "4:+14255550101", None, None))
    assert call_id is not None
    now = datetime.now(UTC)
    calls.apply(call_id, "cb-0", "CallAnswered", ev.CallAnswered(now, "conn-1"))  # what the outbox feeds back
    calls.apply(call_id, "cb-1", "CallConnected", ev.CallConnected(now, "conn-1"))
    calls.apply(
        call_id,
        "cb-2",
        "ParticipantsUpdated",
        ev.ParticipantsUpdated(now, 1, ("4:+14255550101", agent, stranger)),
    )
    with sessions() as session:
        ledger = session.scalars(select(ConsentEntry)).all()
    assert [(e.participant, e.outcome, e.method, e.reason) for e in ledger] == [
        (agent, "exempt", "policy", AGENT_REASON)
    ]
    with UnitOfWork(sessions) as uow:
        state = uow.calls.get(call_id)
    assert state is not None
    consent = {p.raw_id: p.consent for p in state.participants}
    assert consent == {"4:+14255550101": "prompted", agent: "exempt", stranger: "prompted"}


def test_a_reason_the_configuration_gives_for_an_agent_wins(
    sessions: sessionmaker[Session], acs: AcsIdentities
) -> None:
    agent = service(sessions, acs).issue("team-lead", ACTOR).identity
    other_agent = service(sessions, acs).issue("agent-009", ACTOR).identity
    register(sessions, agent, other_agent)
    policy = replace(POLICY, exempt={**POLICY.exempt, agent: "supervisor-monitoring"})
    with sessions() as session:
        agents = AgentRepository(session)
        extended = exempting_known_agents(agents, policy, ("4:+14255550101", agent, other_agent))
        assert exempting_known_agents(agents, policy, ("4:+14255550101",)) is policy
    assert extended.exemption(agent) == "supervisor-monitoring"
    assert extended.exemption(other_agent) == AGENT_REASON
    assert extended.exemption("4:+14255550101") is None
    assert extended.exemption("8:acs:agent") == "agent-identity"  # from POLICY's own table
