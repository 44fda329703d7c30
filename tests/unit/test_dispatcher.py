"""The outbox dispatcher on in-memory fakes of its ports (services/calls/ports.py): no database, no ACS.

What is checked is the dispatcher's own job: run a claimed command through the Call Automation port with its
outbox id, report what ACS answered, retry with backoff, give up and say so, and never send a prompt while
ACS may be recording or a prompt that may already have reached ACS. The SQL of claims and leases has its
integration tests (tests/integration/test_call_service_db.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from recorder.domain import effects as fx
from recorder.domain import events as ev
from recorder.domain.model import CallState, Prompt, RecordingStatus
from recorder.services.calls.dispatcher import Dispatcher
from recorder.services.ports import AcsError
from tests.integration.test_call_service_db import FakeAcs
from tests.unit.fakes import FakeTransaction

NOW = datetime.now(UTC)
PROMPT = Prompt("consent", "1", "en-US", text="Press 1 to agree.")
A = "4:+14255550101"


@dataclass
class Queued:
    call_id: str
    command: fx.Command
    attempts: int = 0
    in_doubt: bool = False
    first_attempt_at: datetime | None = None
    available_at: datetime = NOW
    claimed: bool = False


@dataclass
class Row:
    id: str
    server_call_id: str = "server-1"
    correlation_id: str | None = "correlation-1"
    call_connection_id: str | None = "connection-1"
    recording_id: str | None = "recording-1"
    direction: str = "inbound"
    caller: str | None = A
    callee: str | None = None


@dataclass
class World:
    """The fakes' shared memory: the queue, the calls, and what the dispatcher reported."""

    queue: dict[str, Queued] = field(default_factory=dict)
    states: dict[str, CallState] = field(default_factory=dict)
    rows: dict[str, Row] = field(default_factory=dict)
    finished: list[tuple[str, str, ev.CallEvent | None]] = field(default_factory=list)
    retries: list[tuple[str, datetime]] = field(default_factory=list)
    now: datetime = NOW

    def clock(self) -> datetime:
        return self.now

    def command_finished(
        self,
        call: str,
        command_id: str,
        status: str,
        result: ev.CallEvent | None,
        error: str | None = None,
        /,
    ) -> None:
        self.queue.pop(command_id)
        self.finished.append((command_id, status, result))


class FakeQueue:
    def __init__(self, world: World) -> None:
        self.world = world

    def claim_ready(self, now: datetime, limit: int, lease: timedelta) -> list[tuple[str, str]]:
        taken: dict[str, str] = {}
        for command_id, q in list(self.world.queue.items()):  # workers finish (pop) meanwhile
            if q.call_id not in taken and not q.claimed and q.available_at <= now:
                q.claimed, q.attempts = True, q.attempts + 1
                q.first_attempt_at = q.first_attempt_at or now
                taken[q.call_id] = command_id
        return [(command_id, call_id) for call_id, command_id in taken.items()][:limit]

    def load(self, command_id: str) -> Queued:
        return self.world.queue[command_id]

    def retry_later(self, command_id: str, available_at: datetime, error: str) -> None:
        q = self.world.queue[command_id]
        q.available_at, q.claimed = available_at, False
        self.world.retries.append((command_id, available_at))

    def stats(self, now: datetime) -> tuple[int, float]:
        return len(self.world.queue), 0.0


class FakeCalls:
    def __init__(self, world: World) -> None:
        self.world = world

    def get(self, call_id: str, *, lock: bool = False) -> CallState | None:
        return self.world.states.get(call_id)

    def row(self, call_id: str) -> Row | None:
        return self.world.rows.get(call_id)


class FakeUnitOfWork(FakeTransaction):
    def __init__(self, world: World) -> None:
        self.calls, self.outbox = FakeCalls(world), FakeQueue(world)


@pytest.fixture
def world() -> World:
    world = World()
    world.rows["call-1"] = Row("call-1")
    world.states["call-1"] = CallState("call-1", "server-1", "connection-1", recording_id="recording-1")
    return world


@pytest.fixture
def acs() -> FakeAcs:
    return FakeAcs()


@pytest.fixture
def dispatcher(world: World, acs: FakeAcs) -> Iterator[Dispatcher]:
    running = Dispatcher(
        lambda: FakeUnitOfWork(world), acs, world, lambda call_id: f"https://x/{call_id}", world.clock
    )
    yield running
    running.stop()


def test_a_claimed_pause_reaches_acs_with_its_outbox_id_and_its_answer_goes_back(
    world: World, acs: FakeAcs, dispatcher: Dispatcher
) -> None:
    world.queue["command-1"] = Queued("call-1", fx.PauseRecording())
    assert dispatcher.run_once() == 1
    assert acs.requests == [("pause", "command-1")]
    assert world.finished == [("command-1", "done", ev.CommandDone(NOW, "PauseRecording"))]


def test_one_command_per_call_at_a_time_in_order(world: World, acs: FakeAcs, dispatcher: Dispatcher) -> None:
    world.queue["command-1"] = Queued("call-1", fx.PauseRecording())
    world.queue["command-2"] = Queued("call-1", fx.ResumeRecording())
    dispatcher.run_once()
    assert [request_id for _, request_id in acs.requests] == ["command-1"]
    dispatcher.run_once()
    assert [request_id for _, request_id in acs.requests] == ["command-1", "command-2"]


def test_a_failing_pause_is_retried_quickly_then_reported_failed(
    world: World, acs: FakeAcs, dispatcher: Dispatcher
) -> None:
    world.queue["command-1"] = Queued("call-1", fx.PauseRecording())
    for attempt in range(3):
        acs.fail_next = AcsError("ACS answered 500", transient=True, status=500)
        dispatcher.run_once()
        world.now += timedelta(seconds=1)
        assert len(world.retries) == min(attempt + 1, 2)
    assert world.retries[0][1] == NOW + timedelta(seconds=0.1)  # QUICK_RETRIES: 0.1 s, doubling
    ((command_id, status, failed),) = world.finished
    assert (command_id, status) == ("command-1", "failed")
    assert isinstance(failed, ev.CommandFailed) and failed.command == "PauseRecording"
    assert acs.requests == []


def test_a_permanent_refusal_is_reported_failed_at_once(
    world: World, acs: FakeAcs, dispatcher: Dispatcher
) -> None:
    world.queue["command-1"] = Queued("call-1", fx.PromptParticipant(A, 1, PROMPT, 5))
    acs.fail_next = AcsError("ACS answered 400", transient=False, status=400)
    dispatcher.run_once()
    ((_, status, failed),) = world.finished
    assert status == "failed" and isinstance(failed, ev.CommandFailed)
    assert (failed.target, failed.attempt, world.retries) == (A, 1, [])


def test_a_command_waiting_for_its_connection_is_tried_again_later(
    world: World, acs: FakeAcs, dispatcher: Dispatcher
) -> None:
    world.rows["call-1"] = replace(world.rows["call-1"], call_connection_id=None)
    world.queue["command-1"] = Queued("call-1", fx.HangUp("declined"))
    dispatcher.run_once()
    assert (acs.requests, world.finished, [c for c, _ in world.retries]) == ([], [], ["command-1"])


def test_no_prompt_goes_out_while_acs_may_be_recording(
    world: World, acs: FakeAcs, dispatcher: Dispatcher
) -> None:
    world.states["call-1"] = replace(world.states["call-1"], recording=RecordingStatus.ACTIVE)
    world.queue["command-1"] = Queued("call-1", fx.PromptParticipant(A, 1, PROMPT, 5))
    dispatcher.run_once()
    assert acs.requests == []
    assert world.finished == [("command-1", "done", ev.PromptWithheld(NOW, A, 1))]


def test_a_prompt_that_may_have_reached_acs_is_not_sent_again(
    world: World, acs: FakeAcs, dispatcher: Dispatcher
) -> None:
    world.queue["command-1"] = Queued("call-1", fx.PromptParticipant(A, 1, PROMPT, 5), in_doubt=True)
    dispatcher.run_once()
    assert (acs.requests, world.finished) == ([], [("command-1", "done", None)])


class SlowForOneRecording(FakeAcs):
    """ACS taking its time over one recording's pause until the test lets it answer."""

    def __init__(self, slow_recording: str) -> None:
        super().__init__()
        self.slow_recording, self.release = slow_recording, threading.Event()

    def pause_recording(self, recording_id: str, request_id: str) -> None:
        if recording_id == self.slow_recording:
            self.release.wait(10)
        super().pause_recording(recording_id, request_id)


def test_a_slow_acs_request_holds_back_only_its_own_call(world: World) -> None:
    """The running loop hands each claimed command over and claims again: a pause queued for another call
    while call-1's pause is still with ACS goes out at once, not after call-1's answer."""
    acs = SlowForOneRecording("recording-1")
    for n in (2, 3):
        world.rows[f"call-{n}"] = Row(f"call-{n}", recording_id=f"recording-{n}")
        world.states[f"call-{n}"] = CallState(f"call-{n}", f"server-{n}", "c", recording_id=f"recording-{n}")
    world.queue["pause-1"] = Queued("call-1", fx.PauseRecording())
    world.queue["pause-2"] = Queued("call-2", fx.PauseRecording())
    running = Dispatcher(
        lambda: FakeUnitOfWork(world), acs, world, lambda c: f"https://x/{c}", world.clock, poll_interval=5
    )
    running.start()
    running.wake()  # as the call service does once its commands are committed
    try:
        wait_until(lambda: [f[0] for f in world.finished] == ["pause-2"])
        world.queue["pause-3"] = Queued("call-3", fx.PauseRecording())  # decided while call-1 waits on ACS
        running.wake()
        wait_until(lambda: [f[0] for f in world.finished] == ["pause-2", "pause-3"])
    finally:
        acs.release.set()
        running.stop()
    assert [f[0] for f in world.finished] == ["pause-2", "pause-3", "pause-1"]


def wait_until(condition: Callable[[], bool], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the wait"
        time.sleep(0.01)
