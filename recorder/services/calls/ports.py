"""What the call service needs from its unit of work: one repository per thing it writes, and commit.

``db/unit_of_work.py`` implements it over SQLAlchemy; unit tests implement it in memory. Nothing here knows
about sessions or SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Protocol, Self

from recorder.domain import effects as fx
from recorder.domain import events as ev
from recorder.domain.model import CallState


class CallStore(Protocol):
    def add(
        self,
        state: CallState,
        now: datetime,
        *,
        direction: str,
        caller: str | None = None,
        callee: str | None = None,
        correlation_id: str | None = None,
    ) -> None: ...

    def get(self, call_id: str, *, lock: bool = False) -> CallState | None: ...

    def save(self, state: CallState, now: datetime) -> None: ...

    def id_for_connection(self, call_connection_id: str) -> str | None: ...


class Ledger(Protocol):
    def add(
        self, state: CallState, record: fx.ConsentRecorded, event_id: str | None, now: datetime
    ) -> None: ...

    def add_segment(self, call_id: str, record: fx.SegmentRecorded, event_id: str | None) -> None: ...


class Inbox(Protocol):
    def add(self, channel: str, event_id: str, event_type: str, call_id: str | None, now: datetime) -> bool:
        """False when that event id was seen before (a redelivery)."""
        ...


class QueuedCommand(Protocol):
    """A claimed outbox command: what to run, how often it was tried, and whether its last attempt died
    with its instance (``in_doubt``: it may have reached ACS)."""

    @property
    def command(self) -> fx.Command: ...

    @property
    def attempts(self) -> int: ...

    @property
    def in_doubt(self) -> bool: ...

    @property
    def first_attempt_at(self) -> datetime | None: ...  # Repeatability-First-Sent


class Outbox(Protocol):
    def add(self, call_id: str, command: fx.Command, now: datetime) -> str: ...

    def claim_next(self, call_id: str, now: datetime, lease: timedelta) -> str | None: ...

    def finish(self, command_id: str, status: str, now: datetime, error: str | None = None) -> None: ...


class AuditTrail(Protocol):
    def defer(
        self, actor: str, action: str, call_id: str | None, data: dict[str, Any], now: datetime
    ) -> None: ...


class AgentRegister(Protocol):
    def registered(self, raw_ids: Iterable[str]) -> dict[str, str]: ...

    def is_agent(self, raw_id: str) -> bool: ...


class EventRows(Protocol):
    def last_sequence(self, call_id: str) -> int: ...

    def requests_of(self, call_id: str) -> list[tuple[str, str | None]]: ...

    def add(self, row: dict[str, Any]) -> None: ...

    def after_commit(self, callback: Callable[[], None]) -> None: ...


class HasEvents(Protocol):
    """A unit of work that can write published events (the call service's, the storage service's)."""

    @property
    def events(self) -> EventRows: ...


class RequestRows(Protocol):
    def fail_open(
        self, call_id: str, open_state: str, failed_state: str, reason: str, now: datetime
    ) -> None: ...


class CallsUnitOfWork(Protocol):
    @property
    def calls(self) -> CallStore: ...

    @property
    def ledger(self) -> Ledger: ...

    @property
    def inbox(self) -> Inbox: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def audit(self) -> AuditTrail: ...

    @property
    def agents(self) -> AgentRegister: ...

    @property
    def events(self) -> EventRows: ...

    @property
    def requests(self) -> RequestRows: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def commit(self) -> None: ...


class UnitOfWork(Protocol):
    """What every unit of work is: a transaction that commits only when told (leaving it rolls back)."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def commit(self) -> None: ...


class CallRow(Protocol):
    """A call as stored, beyond its consent state: the ids and facts the dispatcher and requests show."""

    id: str
    server_call_id: str
    correlation_id: str | None
    call_connection_id: str | None
    recording_id: str | None
    direction: str
    caller: str | None
    callee: str | None


class DispatchCalls(Protocol):
    def get(self, call_id: str, *, lock: bool = False) -> CallState | None: ...

    def row(self, call_id: str) -> CallRow | None: ...


class OutboxQueue(Protocol):
    """The outbox as the dispatcher takes from it."""

    def claim_ready(self, now: datetime, limit: int, lease: timedelta) -> list[tuple[str, str]]:
        """Up to ``limit`` ready commands, at most one per call, leased: ``[(command id, call id)]``."""
        ...

    def load(self, command_id: str) -> QueuedCommand: ...

    def retry_later(self, command_id: str, available_at: datetime, error: str) -> None: ...

    def stats(self, now: datetime) -> tuple[int, float]:
        """Pending depth and the age in seconds of the oldest pending command."""
        ...


class DispatchUnitOfWork(UnitOfWork, Protocol):
    @property
    def calls(self) -> DispatchCalls: ...

    @property
    def outbox(self) -> OutboxQueue: ...


class CommandResults(Protocol):
    """Where the dispatcher reports each command's end (the call service's ``command_finished``)."""

    def command_finished(
        self, call: str, command: str, status: str, result: ev.CallEvent | None, error: str | None = None, /
    ) -> str | None:
        """Returns the call's next command when it claimed it for the dispatcher to run at once."""
        ...


class LiveCalls(Protocol):
    def live(self) -> list[tuple[CallState, str]]:
        """Every call ACS may still be running for us, with its direction."""
        ...

    def pass_lock(self) -> AbstractContextManager[bool]:
        """Held for one reconciliation pass: False when another instance is on it."""
        ...


class ReconcileUnitOfWork(UnitOfWork, Protocol):
    @property
    def calls(self) -> LiveCalls: ...


class Audit(Protocol):
    def append(
        self, actor: str, action: str, call_id: str | None, data: dict[str, Any], now: datetime
    ) -> int: ...


class AgentView(Protocol):
    identity: str
    reason: str
    registered_by: str
    registered_at: datetime


class AgentExemptions(Protocol):
    def exempt(self, identity: str, reason: str, actor: str, now: datetime) -> AgentView: ...

    def unexempt(self, identity: str) -> bool: ...

    def exemptions(self) -> Sequence[AgentView]:
        """Every registered agent, by identity."""
        ...


class AgentsUnitOfWork(UnitOfWork, Protocol):
    @property
    def agents(self) -> AgentExemptions: ...

    @property
    def audit(self) -> Audit: ...


class GrantView(Protocol):
    key_id: str
    granted_by: str
    granted_at: datetime


class Grants(Protocol):
    def may_act(self, key_id: str, call_id: str, starting_kinds: Sequence[str]) -> bool: ...

    def key_exists(self, key_id: str) -> bool: ...

    def grant(self, call_id: str, key_id: str, actor: str, now: datetime) -> tuple[GrantView, bool]: ...

    def revoke(self, call_id: str, key_id: str) -> bool: ...


class GrantsUnitOfWork(UnitOfWork, Protocol):
    @property
    def grants(self) -> Grants: ...

    @property
    def audit(self) -> Audit: ...


class RequestRow(Protocol):
    """A recording request as stored."""

    id: str
    key_id: str
    fingerprint: str
    kind: str
    call_id: str
    target: str | None
    region: str | None
    external_reference: str | None
    state: str
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime
    stopped_at: datetime | None


class RequestCall(CallRow, Protocol):
    """The call a request is about, as its view shows it."""

    phase: str
    recording: str
    recording_reported: str
    updated_at: datetime


class RequestCalls(CallStore, Protocol):
    def row(self, call_id: str) -> RequestCall | None: ...

    def live_for_server_call(self, server_call_id: str) -> str | None: ...

    def anyone_consented(self, call_id: str, outcomes: Iterable[str]) -> bool: ...


class Requests(RequestRows, Protocol):
    def by_idempotency_key(self, key_id: str, idempotency_key: str) -> RequestRow | None: ...

    def add(self, values: dict[str, Any]) -> RequestRow | None:
        """None when the (key, Idempotency-Key) raced in on another connection first."""
        ...

    def get(self, request_id: str) -> RequestRow | None: ...

    def stop_requested(self, request_id: str, state: str, now: datetime) -> None: ...

    def stored(self, call_id: str) -> bool: ...


class AuditLog(AuditTrail, Audit, Protocol):
    """Entries deferred to the sealer, and entries chained at once."""


class RequestsUnitOfWork(CallsUnitOfWork, Protocol):
    @property
    def audit(self) -> AuditLog: ...

    @property
    def calls(self) -> RequestCalls: ...

    @property
    def requests(self) -> Requests: ...

    @property
    def grants(self) -> Grants: ...
