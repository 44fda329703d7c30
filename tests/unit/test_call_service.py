"""The call service on in-memory fakes of its unit-of-work port (services/calls/ports.py): no database.

What is checked here is the use case's own job (de-duplicate, decide, write everything through one unit of
work, wake the dispatcher once it committed); the SQL behind the port has its integration tests."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from recorder.domain import effects as fx
from recorder.domain import events as ev
from recorder.domain.model import CallState, ConsentPolicy, Prompt
from recorder.services.calls.consent_flow import CallService, IncomingCall, Outcome
from tests.unit.fakes import FakeTransaction

NOW = datetime.now(UTC)  # frozen for the test run: the service reads it through its clock
POLICY = ConsentPolicy(
    prompts={"en-US": Prompt("consent", "1", "en-US", text="Press 1 to agree.")}, default_locale="en-US"
)
CALLEE, AGENT = "4:+18005550100", "8:acs:agent"


@dataclass
class Store:
    """What the fakes keep between units of work: the in-memory 'database'."""

    calls: dict[str, CallState] = field(default_factory=dict)
    connections: dict[str, str] = field(default_factory=dict)
    seen: set[tuple[str, str]] = field(default_factory=set)
    outbox: list[tuple[str, fx.Command]] = field(default_factory=list)
    ledger: list[Any] = field(default_factory=list)
    audit: list[str] = field(default_factory=list)
    agents: dict[str, str] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    commits: int = 0
    claimed: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)


class FakeCalls:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, state: CallState, now: datetime, *, direction: str, **who: str | None) -> None:
        self.save(state, now)

    def get(self, call_id: str, *, lock: bool = False) -> CallState | None:
        return self.store.calls.get(call_id)

    def save(self, state: CallState, now: datetime) -> None:
        self.store.calls[state.call_id] = state
        if state.call_connection_id:
            self.store.connections[state.call_connection_id] = state.call_id

    def id_for_connection(self, call_connection_id: str) -> str | None:
        return self.store.connections.get(call_connection_id)


class FakeInbox:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, channel: str, event_id: str, event_type: str, call_id: str | None, now: datetime) -> bool:
        new = (channel, event_id) not in self.store.seen
        self.store.seen.add((channel, event_id))
        return new


class FakeOutbox:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, call_id: str, command: fx.Command, now: datetime) -> str:
        self.store.outbox.append((call_id, command))
        return f"command-{len(self.store.outbox)}"

    def finish(self, command_id: str, status: str, now: datetime, error: str | None = None) -> None:
        self.store.finished.add(command_id)

    def claim_next(self, call_id: str, now: datetime, lease: timedelta) -> str | None:
        ids = [f"command-{n}" for n, (call, _) in enumerate(self.store.outbox, 1) if call == call_id]
        head = next((i for i in ids if i not in self.store.finished), None)
        if head is None or head in self.store.claimed:
            return None
        self.store.claimed.add(head)
        return head


class FakeLedger:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, state: CallState, record: fx.ConsentRecorded, event_id: str | None, now: datetime) -> None:
        self.store.ledger.append(record)

    def add_segment(self, call_id: str, record: fx.SegmentRecorded, event_id: str | None) -> None:
        self.store.ledger.append(record)


class FakeAudit:
    def __init__(self, store: Store) -> None:
        self.store = store

    def defer(
        self, actor: str, action: str, call_id: str | None, data: dict[str, Any], now: datetime
    ) -> None:
        self.store.audit.append(action)


class FakeAgents:
    def __init__(self, store: Store) -> None:
        self.store = store

    def registered(self, raw_ids: Iterable[str]) -> dict[str, str]:
        return {i: self.store.agents[i] for i in raw_ids if i in self.store.agents}

    def is_agent(self, raw_id: str) -> bool:
        return raw_id in self.store.agents


class FakeEvents:
    def __init__(self, store: Store) -> None:
        self.store = store

    def last_sequence(self, call_id: str) -> int:
        return sum(1 for row in self.store.events if row["call_id"] == call_id)

    def requests_of(self, call_id: str) -> list[tuple[str, str | None]]:
        return []

    def add(self, row: dict[str, Any]) -> None:
        self.store.events.append(row)

    def after_commit(self, callback: Callable[[], None]) -> None:
        return None


class FakeRequests:
    def fail_open(self, call_id: str, open_state: str, failed_state: str, reason: str, now: datetime) -> None:
        return None


class FakeUnitOfWork(FakeTransaction):
    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls, self.inbox, self.outbox = FakeCalls(store), FakeInbox(store), FakeOutbox(store)
        self.ledger, self.audit, self.agents = FakeLedger(store), FakeAudit(store), FakeAgents(store)
        self.events, self.requests = FakeEvents(store), FakeRequests()

    def commit(self) -> None:
        self.store.commits += 1


def service(store: Store, wakes: list[int]) -> CallService:
    return CallService(
        lambda: FakeUnitOfWork(store), POLICY, lambda: NOW, commands_queued=lambda: wakes.append(1)
    )


def incoming(event_id: str, callee: str = CALLEE) -> IncomingCall:
    return IncomingCall(event_id, "server-call", "context", "4:+14255550101", callee, None)


def test_an_incoming_call_is_answered_once_however_often_it_is_delivered() -> None:
    store, wakes = Store(), list[int]()
    calls = service(store, wakes)
    first = calls.incoming_call(incoming("event-1"))
    again = calls.incoming_call(incoming("event-1"))
    assert first[0] is Outcome.APPLIED and again == (Outcome.DUPLICATE, None)
    assert [type(command) for _, command in store.outbox] == [fx.AnswerCall]
    assert (store.commits, wakes, store.audit) == (1, [1], ["call.IncomingCall"])


def test_a_call_to_one_of_the_centers_agents_is_left_alone() -> None:
    store, wakes = Store(agents={AGENT: "agent-identity"}), list[int]()
    assert service(store, wakes).incoming_call(incoming("event-2", callee=AGENT)) == (Outcome.IGNORED, None)
    assert (store.outbox, store.commits, wakes) == ([], 0, [])


def test_a_callback_for_an_unknown_call_changes_nothing() -> None:
    store, wakes = Store(), list[int]()
    outcome = service(store, wakes).apply(
        "no-such-call", "event-3", "CallConnected", ev.CallAnswered(NOW, "c")
    )
    assert (outcome, store.commits, store.outbox, wakes) == (Outcome.UNKNOWN_CALL, 0, [], [])


def test_the_answered_call_learns_its_connection_in_one_commit() -> None:
    store, wakes = Store(), list[int]()
    calls = service(store, wakes)
    _, call_id = calls.incoming_call(incoming("event-4"))
    assert call_id is not None
    applied = calls.apply(
        call_id, "event-5", "CallConnected", ev.CallAnswered(NOW, "connection-1", (CALLEE,))
    )
    assert applied is Outcome.APPLIED
    assert calls.id_for_connection("connection-1") == call_id == store.connections["connection-1"]
    assert store.calls[call_id].call_connection_id == "connection-1" and store.commits == 2


@dataclass(frozen=True)
class Callback:
    id: str
    type: str
    event: ev.CallEvent | None
    call_connection_id: str = "connection-1"


def test_the_command_a_callback_queues_is_claimed_with_its_decision_and_run_after_the_commit() -> None:
    store, wakes, ran = Store(), list[int](), list[tuple[str, str, int]]()
    lease = timedelta(seconds=30)
    calls = CallService(
        lambda: FakeUnitOfWork(store),
        POLICY,
        lambda: NOW,
        commands_queued=lambda: wakes.append(1),
        command_lease=lease,
    )
    _, call_id = calls.incoming_call(incoming("event-6"))
    assert call_id is not None
    answered = ev.CallAnswered(NOW, "connection-1", (CALLEE,))
    assert calls.command_finished(call_id, "command-1", "done", answered) is None  # nothing else queued
    calls.apply(call_id, "event-7a", "CallConnected", ev.CallConnected(NOW, "connection-1"))
    caller = "4:+14255550101"
    joined = Callback("event-7", "ParticipantsUpdated", ev.ParticipantsUpdated(NOW, 1, (caller,)))
    wakes.clear()

    def run_now(command_id: str, call: str) -> None:
        ran.append((command_id, call, store.commits))

    delivered = calls.apply_callbacks(call_id, [joined], run_now=run_now)
    assert delivered.outcomes == {"applied": 1}
    queued = [command for call, command in store.outbox if call == call_id]
    assert [type(c) for c in queued] == [fx.AnswerCall, fx.PromptParticipant]
    assert ran == [("command-2", call_id, 4)] and wakes == []  # after its commit, not the loop's to find
    assert calls.command_finished(call_id, "command-2", "done", None) is None


def test_without_someone_to_run_it_the_command_is_left_to_the_dispatchers_loop() -> None:
    store, wakes = Store(), list[int]()
    calls = CallService(
        lambda: FakeUnitOfWork(store),
        POLICY,
        lambda: NOW,
        commands_queued=lambda: wakes.append(1),
        command_lease=timedelta(seconds=30),
    )
    _, call_id = calls.incoming_call(incoming("event-8"))
    assert call_id is not None
    calls.command_finished(call_id, "command-1", "done", ev.CallAnswered(NOW, "connection-1", (CALLEE,)))
    calls.apply(call_id, "event-8a", "CallConnected", ev.CallConnected(NOW, "connection-1"))
    wakes.clear()
    joined = Callback("event-9", "ParticipantsUpdated", ev.ParticipantsUpdated(NOW, 1, ("4:+14255550101",)))
    assert calls.apply_callbacks(call_id, [joined]).outcomes == {"applied": 1}
    assert store.claimed == set() and wakes == [1]
