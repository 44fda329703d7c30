"""The reconciliation loop and the answer filter on real SQLite and PostgreSQL, with a fake ACS port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from recorder.db.engine import make_engine, session_factory
from recorder.db.tables.audit import AuditPending
from recorder.db.tables.calls import OutboxCommand
from recorder.db.tables.identities import AgentIdentity
from recorder.db.unit_of_work import UnitOfWork
from recorder.domain import events as ev
from recorder.services.calls.consent_flow import CallService, IncomingCall, Outcome
from recorder.services.calls.dispatcher import Dispatcher
from recorder.services.calls.reconciler import Reconciler
from recorder.services.ports import CallRead
from tests.integration.test_call_service_db import SERVICE_IDENTITY, Clock, FakeAcs, drain
from tests.unit.test_consent import POLICY

A, B = "4:+14255550101", "4:+14255550102"
World = tuple[CallService, Dispatcher, Reconciler, FakeAcs, UnitOfWork, Clock]


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    clock, acs = Clock(), FakeAcs()
    calls = CallService(lambda: UnitOfWork(sessions), POLICY, clock)
    dispatcher = Dispatcher(
        lambda: UnitOfWork(sessions), acs, calls, lambda c: f"https://x/{c}", clock, base_backoff=0
    )
    reconciler = Reconciler(lambda: UnitOfWork(sessions), acs, calls, clock, period=1.0, workers=2)
    yield calls, dispatcher, reconciler, acs, UnitOfWork(sessions), clock
    dispatcher.stop()
    reconciler.stop()
    engine.dispose()


def prompted_call(world: World, n: int) -> str:
    """Answered and connected, A present and prompted."""
    calls, dispatcher, _, _, _, clock = world
    _, call_id = calls.incoming_call(IncomingCall(f"eg-{n}", f"server-{n}", "ctx", A, "4:+18005550100", None))
    assert call_id is not None
    drain(dispatcher)
    calls.apply(call_id, f"c{n}-1", "CallConnected", ev.CallConnected(clock(), f"conn-{n}"))
    calls.apply(call_id, f"c{n}-2", "ParticipantsUpdated", ev.ParticipantsUpdated(clock(), 1, (A,)))
    drain(dispatcher)
    return call_id


def recorded_call(world: World) -> str:
    calls, dispatcher, _, _, _, clock = world
    call_id = prompted_call(world, 1)
    grant = ev.RecognizeCompleted(clock(), "consent|1|" + A, ("one",))
    calls.apply(call_id, "cb-3", "RecognizeCompleted", grant)
    drain(dispatcher)
    active = ev.RecordingStateChanged(clock(), "rec-1", True, clock())
    calls.apply(call_id, "cb-4", "RecordingStateChanged", active)
    return call_id


def pending_commands(uow: UnitOfWork, call_id: str) -> list[str]:
    with uow:
        rows = uow.session.scalars(
            select(OutboxCommand.kind).where(
                OutboxCommand.call_id == call_id, OutboxCommand.status == "pending"
            )
        )
        return list(rows)


def test_a_newcomer_acs_lists_but_no_callback_announced_is_read_back_and_paused_for(world: World) -> None:
    _, _, reconciler, acs, uow, clock = world
    call_id = recorded_call(world)
    acs.truth = CallRead(True, (A,), (SERVICE_IDENTITY,), "active")
    clock.now += timedelta(seconds=1)
    assert reconciler.run_once() == 0
    assert pending_commands(uow, call_id) == []  # ACS agrees with the call: nothing written
    acs.truth = CallRead(True, (A, B), (SERVICE_IDENTITY,), "active")
    clock.now += timedelta(seconds=1)
    reconciler.run_once()
    assert pending_commands(uow, call_id) == ["PauseRecording"]
    with uow:
        actors = list(uow.session.scalars(select(AuditPending.actor).where(AuditPending.call_id == call_id)))
    assert "reconciler" in actors


def test_an_unanswered_prompt_is_asked_again_once_overdue(world: World) -> None:
    _, _, reconciler, acs, uow, clock = world
    call_id = prompted_call(world, 2)
    acs.truth = CallRead(True, (A,), (SERVICE_IDENTITY,), None)
    clock.now += timedelta(seconds=POLICY.silence_timeout_seconds + POLICY.answer_margin_seconds - 1)
    reconciler.run_once()
    assert pending_commands(uow, call_id) == []
    clock.now += timedelta(seconds=2)
    reconciler.run_once()
    assert pending_commands(uow, call_id) == ["PromptParticipant"]


def test_the_loop_reports_its_period_and_lag(world: World) -> None:
    calls, _, _, acs, uow, clock = world
    reconciler = Reconciler(lambda: uow, acs, calls, clock, period=2.5)
    try:
        assert REGISTRY.get_sample_value("recorder_reconcile_period_seconds") == 2.5
        reconciler.run_once()
        reconciler.run_once()
        lag = REGISTRY.get_sample_value("recorder_reconcile_lag_seconds")
        assert lag is not None and lag >= 0
    finally:
        reconciler.stop()


def test_incoming_calls_are_answered_only_for_the_configured_numbers(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    clock = Clock()
    picky = CallService(lambda: UnitOfWork(sessions), POLICY, clock, answer_for=frozenset({"4:+18005550100"}))
    try:
        other = IncomingCall("eg-x", "server-x", "ctx", A, "4:+18005550199", None)
        assert picky.incoming_call(other) == (Outcome.IGNORED, None)
        ours = IncomingCall("eg-y", "server-y", "ctx", A, "4:+18005550100", None)
        assert picky.incoming_call(ours)[0] is Outcome.APPLIED
    finally:
        engine.dispose()


def test_without_a_filter_a_call_to_an_agent_identity_is_not_answered(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    agent = "8:acs:resource_agent-1"
    with sessions() as session:
        identity = AgentIdentity(owner="key:t", user_id="agent-1", acs_identity=agent, created_at=Clock()())
        session.add(identity)
        session.commit()
    calls = CallService(lambda: UnitOfWork(sessions), POLICY, Clock())
    try:
        leg = IncomingCall("eg-leg", "server-leg", "ctx", A, agent, None)
        assert calls.incoming_call(leg) == (Outcome.IGNORED, None)
        assert calls.incoming_call(IncomingCall("eg-z", "server-z", "ctx", A, B, None))[0] is Outcome.APPLIED
    finally:
        engine.dispose()


def test_one_pass_per_period_however_many_workers_reconcile(world: World, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serves one process: there is no other worker to keep out")
    calls, _, reconciler, acs, _, clock = world
    recorded_call(world)
    acs.truth = CallRead(True, (A,), (SERVICE_IDENTITY,), "active")
    engine = make_engine(database_url)
    other = Reconciler(lambda: UnitOfWork(session_factory(engine)), acs, calls, clock, period=1.0)

    def reads() -> int:
        return sum(1 for name, _ in acs.requests if name == "read")

    try:
        before = reads()
        passing = threading.Thread(target=reconciler.run_once, kwargs={"hold": 1.0})
        passing.start()
        deadline = time.monotonic() + 5
        while reads() == before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert reads() == before + 1  # the first worker read the one live call, and holds the pass
        other.run_once()
        assert reads() == before + 1  # the second found the pass taken: no second read of the call
        passing.join()
        other.run_once()
        assert reads() == before + 2  # a period later the pass is free again
    finally:
        other.stop()
        engine.dispose()
