"""What the compliance services need from their unit of work: the audit trail, legal holds, what an erasure
rewrites. ``db/`` implements it (``db/repositories/audit.py``, ``holds.py``, ``erasure.py``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from recorder.domain import audit_chain
from recorder.services.calls.ports import UnitOfWork


class AuditChain(Protocol):
    def append(
        self, actor: str, action: str, call_id: str | None, data: dict[str, Any], now: datetime
    ) -> int:
        """Link an entry into the chain now; returns its seq."""
        ...

    def seal(self, limit: int = 1000) -> int:
        """Chain the oldest pending entries; returns how many."""
        ...

    def seal_pending(self) -> None: ...

    def head(self) -> tuple[int, str] | None:
        """The chain's last (seq, hash); None while it is empty."""
        ...


class LegalHoldRow(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def reason(self) -> str: ...

    @property
    def set_by(self) -> str: ...

    @property
    def set_at(self) -> datetime: ...

    @property
    def released_by(self) -> str | None: ...

    @property
    def released_at(self) -> datetime | None: ...

    @property
    def release_reason(self) -> str | None: ...

    @property
    def blob_hold(self) -> str | None: ...


class HoldRecords(Protocol):
    def is_on_hold(self, call_id: str) -> bool: ...

    def active(self, call_id: str) -> LegalHoldRow | None: ...

    def of(self, call_id: str) -> Iterable[LegalHoldRow]: ...

    def place(self, call_id: str, reason: str, actor: str, now: datetime, blob_hold: str) -> LegalHoldRow: ...

    def release(self, hold_id: int, actor: str, now: datetime, reason: str) -> LegalHoldRow: ...


class ErasureRecords(Protocol):
    def calls_of(self, raw_id: str) -> set[str]: ...

    def ledger_rows(self, raw_id: str) -> list[int]: ...

    def entries_containing(self, forms: Iterable[str]) -> list[audit_chain.ChainEntry]: ...

    def tombstone(self, seq: int, data: dict[str, Any]) -> None: ...

    def pseudonymise(self, raw_id: str, pseudonym: str) -> None: ...

    def record(
        self,
        subject: str,
        actor: str,
        now: datetime,
        audit_seq: int,
        ledger_rows: list[int],
        entries: list[int],
    ) -> None: ...


class ConnectionOf(Protocol):
    def connection_of(self, call_id: str) -> str | None: ...


class AuditUnitOfWork(UnitOfWork, Protocol):
    @property
    def audit(self) -> AuditChain: ...


class HoldsUnitOfWork(AuditUnitOfWork, Protocol):
    @property
    def holds(self) -> HoldRecords: ...


class ErasureUnitOfWork(HoldsUnitOfWork, Protocol):
    @property
    def erasure(self) -> ErasureRecords: ...

    @property
    def calls(self) -> ConnectionOf: ...
