"""What the call service needs from its unit of work: one repository per thing it writes, and commit.

``db/unit_of_work.py`` implements it over SQLAlchemy; unit tests implement it in memory. Nothing here knows
about sessions or SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from recorder.domain import effects as fx
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

    def connection_of(self, call_id: str) -> str | None: ...


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

    def load(self, command_id: str) -> QueuedCommand: ...

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
