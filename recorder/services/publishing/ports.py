"""What the publisher needs from its unit of work: the event queue, as it takes from it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from recorder.domain.published import OutgoingEvent
from recorder.services.calls.ports import UnitOfWork


class EventQueue(Protocol):
    def ready_heads(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        """``[(event id, call id)]`` of each call's oldest unsent event whose turn has come, unleased."""
        ...

    def claim(self, head_id: str, now: datetime, lease: timedelta) -> bool: ...

    def unsent(self, call_id: str, limit: int) -> tuple[list[OutgoingEvent], int]:
        """The call's unsent events, in order, and how often the first was tried."""
        ...

    def published(self, event_ids: list[str], now: datetime) -> None: ...

    def retry_later(self, head_id: str, available_at: datetime, error: str) -> None: ...

    def stats(self, now: datetime) -> tuple[int, float]: ...


class PublishUnitOfWork(UnitOfWork, Protocol):
    @property
    def events(self) -> EventQueue: ...
