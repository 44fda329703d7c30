"""The call service and outbox on real SQLite and PostgreSQL, with a fake of our own Call Automation port."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from recorder.db.engine import make_engine, session_factory
from recorder.db.tables.audit import AuditEntry
from recorder.db.tables.calls import ConsentEntry, OutboxCommand
from recorder.db.unit_of_work import UnitOfWork
from recorder.domain import effects as fx
from recorder.domain import events as ev
from recorder.domain.model import Prompt
from recorder.services.calls.consent_flow import CallService, IncomingCall, Outcome
from recorder.services.calls.dispatcher import Dispatcher
from recorder.services.ports import AcsError, CallRead, PlacedCall
from recorder.services.queries import ledger as queries
from tests import audit_tampering
from tests.unit.test_consent import POLICY

A, B = "4:+14255550101", "4:+14255550102"
SERVICE_IDENTITY = "8:acs:service_app"


class FakeAcs:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.fail_next: AcsError | None = None
        self.truth = CallRead(connected=True, participants=(), own_identities=(SERVICE_IDENTITY,))

    def _log(self, name: str, request_id: str) -> None:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.requests.append((name, request_id))

    def answer_call(
        self,
        incoming_call_context: str,
        callback_url: str,
        request_id: str,
        *,
        first_sent: datetime | None = None,
    ) -> PlacedCall:
        self._log("answer", request_id)
        return PlacedCall("conn-1", own_identities=(SERVICE_IDENTITY,))

    def connect_call(
        self, server_call_id: str, callback_url: str, request_id: str, *, first_sent: datetime | None = None
    ) -> PlacedCall:
        self._log(f"connect {server_call_id}", request_id)
        return PlacedCall("conn-1", own_identities=(SERVICE_IDENTITY,))

    def create_call(
        self,
        target: str,
        source_caller_id: str | None,
        callback_url: str,
        request_id: str,
        *,
        first_sent: datetime | None = None,
    ) -> PlacedCall:
        self._log(f"create {target}", request_id)
        return PlacedCall("conn-1", "server-placed")

    def prompt_for_consent(
        self,
        call_connection_id: str,
        target: str,
        prompt: Prompt,
        silence: int,
        context: str,
        request_id: str,
    ) -> None:
        self._log(f"prompt {target}", request_id)

    def watch_dtmf(
        self, call_connection_id: str, target: str, operation_context: str, request_id: str
    ) -> None:
        self._log(f"watch {target}", request_id)

    def start_recording(
        self,
        call_connection_id: str,
        state_callback_url: str,
        request_id: str,
        *,
        destination_container_url: str | None = None,
        first_sent: datetime | None = None,
    ) -> str:
        self._log("start", request_id)
        return "rec-1"

    def pause_recording(self, recording_id: str, request_id: str) -> None:
        self._log("pause", request_id)

    def resume_recording(self, recording_id: str, request_id: str) -> None:
        self._log("resume", request_id)

    def stop_recording(self, recording_id: str, request_id: str) -> None:
        self._log("stop", request_id)

    def hang_up(
        self, call_connection_id: str, request_id: str, *, first_sent: datetime | None = None
    ) -> None:
        self._log("hangup", request_id)

    def read_call(
        self,
        call_connection_id: str,
        recording_id: str | None,
        *,
        properties: bool,
        direction: str = "inbound",
    ) -> CallRead:
        self._log("read", "")
        return self.truth


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)  # frozen at the start; tests move it by hand

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(database_url: str) -> Iterator[tuple[CallService, Dispatcher, FakeAcs, UnitOfWork]]:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    clock, acs = Clock(), FakeAcs()
    calls = CallService(lambda: UnitOfWork(sessions), POLICY, clock)
    dispatcher = Dispatcher(
        lambda: UnitOfWork(sessions), acs, calls, lambda c: f"https://x/{c}", clock, base_backoff=0
    )
    yield calls, dispatcher, acs, UnitOfWork(sessions)
    dispatcher.stop()
    engine.dispose()


def drain(dispatcher: Dispatcher) -> None:
    while dispatcher.run_once():
        pass


def seal(uow: UnitOfWork) -> None:
    """What the AuditSealer thread does every 100 ms in the service: chain the pending entries."""
    with uow:
        while uow.audit.seal():
            pass
        uow.commit()


def test_a_call_runs_through_consent_to_one_recording(
    world: tuple[CallService, Dispatcher, FakeAcs, UnitOfWork],
) -> None:
    calls, dispatcher, acs, uow = world
    incoming = IncomingCall("eg-1", "server-1", "ctx", A, "4:+18005550100", "corr")
    outcome, call_id = calls.incoming_call(incoming)
    assert outcome is Outcome.APPLIED and call_id is not None
    assert calls.incoming_call(incoming) == (Outcome.DUPLICATE, None)
    drain(dispatcher)
    now = datetime.now(UTC)
    assert calls.apply(call_id, "e1", "CallConnected", ev.CallConnected(now, "conn-1")) is Outcome.APPLIED
    assert calls.apply(call_id, "e2", "ParticipantsUpdated", ev.ParticipantsUpdated(now, 1, (A, B)))
    drain(dispatcher)
    for i, who in enumerate((A, B)):
        event = ev.RecognizeCompleted(now, fx.consent_context(who, 1), ("one",))
        assert calls.apply(call_id, f"r{i}", "RecognizeCompleted", event) is Outcome.APPLIED
        assert calls.apply(call_id, f"r{i}", "RecognizeCompleted", event) is Outcome.DUPLICATE
    drain(dispatcher)
    assert [name for name, _ in acs.requests] == [
        "answer",
        f"prompt {A}",
        f"prompt {B}",
        f"watch {A}",
        "start",
        f"watch {B}",
    ]
    with uow:
        ledger = uow.session.scalars(select(ConsentEntry).order_by(ConsentEntry.id)).all()
        assert [(r.participant, r.outcome, r.prompt_sha256) for r in ledger] == [
            (A, "granted", POLICY.prompts["en-US"].sha256),
            (B, "granted", POLICY.prompts["en-US"].sha256),
        ]
        assert uow.calls.get(call_id) is not None
        assert uow.calls.get(call_id).recording_id == "rec-1"  # type: ignore[union-attr]
        pending = uow.session.scalar(select(func.count()).where(OutboxCommand.status == "pending"))
        assert pending == 0
        assert queries.verify_audit(uow.session).ok
        assert uow.audit.pending() > 0  # the call's entries wait for the sealer
    seal(uow)
    with uow:
        assert uow.audit.pending() == 0
        assert queries.verify_audit(uow.session).entries > 0
        assert queries.verify_audit(uow.session).ok
    assert (
        calls.apply("no-such-call", "e9", "CallConnected", ev.CallConnected(now, "x")) is Outcome.UNKNOWN_CALL
    )


def test_a_transient_acs_failure_is_retried_with_the_same_request_id(
    world: tuple[CallService, Dispatcher, FakeAcs, UnitOfWork],
) -> None:
    calls, dispatcher, acs, uow = world
    calls.incoming_call(IncomingCall("eg-1", "server-1", "ctx", A, None, None))
    acs.fail_next = AcsError("503", transient=True, status=503)
    drain(dispatcher)
    assert len(acs.requests) == 1
    with uow:
        (row,) = uow.session.scalars(select(OutboxCommand)).all()
        assert (row.status, row.attempts, row.last_error) == ("done", 2, "503")
        assert acs.requests[0][1] == row.id


def test_a_permanent_failure_is_recorded_not_swallowed(
    world: tuple[CallService, Dispatcher, FakeAcs, UnitOfWork],
) -> None:
    calls, dispatcher, acs, uow = world
    calls.incoming_call(IncomingCall("eg-1", "server-1", "ctx", A, None, None))
    acs.fail_next = AcsError("ACS answered 400", transient=False, status=400)
    drain(dispatcher)
    seal(uow)
    with uow:
        (row,) = uow.session.scalars(select(OutboxCommand)).all()
        assert (row.status, row.last_error) == ("failed", "ACS answered 400")
        actions = uow.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
        assert actions == ["call.IncomingCall", "call.CommandFailed"]


def test_a_tampered_audit_entry_is_refused_and_if_forced_found_at_its_seq(
    world: tuple[CallService, Dispatcher, FakeAcs, UnitOfWork], database_url: str
) -> None:
    calls, dispatcher, _, uow = world
    calls.incoming_call(IncomingCall("eg-1", "server-1", "ctx", A, None, None))
    drain(dispatcher)
    seal(uow)
    with uow:
        assert queries.verify_audit(uow.session).entries == 2
        entry = uow.session.get_one(AuditEntry, 1)
        entry.data = {**entry.data, "phase": "connected"}
        with pytest.raises(DBAPIError, match="append-only"):
            uow.commit()
    with uow:
        assert queries.verify_audit(uow.session).ok
    # someone with the power to switch the triggers off (a superuser, a raw SQLite file) changes it anyway
    forged = {**audit_tampering.read_data(database_url, 1), "phase": "connected"}
    audit_tampering.rewrite_data(database_url, 1, forged)
    with uow:
        result = queries.verify_audit(uow.session)
    assert (result.ok, result.first_bad) == (False, 1)
