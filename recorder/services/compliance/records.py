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


class ChainEntries(Protocol):
    def entries(self) -> Iterable[audit_chain.ChainEntry]:
        """The whole chain, in order."""
        ...


class LegalHoldRow(Protocol):
    id: int
    reason: str
    set_by: str
    set_at: datetime
    released_by: str | None
    released_at: datetime | None
    release_reason: str | None
    blob_hold: str | None


class HoldRecords(Protocol):
    def is_on_hold(self, call_id: str) -> bool: ...

    def active(self, call_id: str) -> LegalHoldRow | None: ...

    def of(self, call_id: str) -> Iterable[LegalHoldRow]: ...

    def place(self, call_id: str, reason: str, actor: str, now: datetime, blob_hold: str) -> LegalHoldRow: ...

    def release(self, hold_id: int, actor: str, now: datetime, reason: str) -> LegalHoldRow: ...


class ErasureRecords(Protocol):
    def calls_of(self, raw_id: str) -> set[str]: ...

    def ledger_rows(self, raw_id: str) -> list[int]: ...

    def pseudonymise(self, raw_id: str, pseudonym: str) -> None: ...

    def record(
        self, subject: str, by: str, at: datetime, seq: int, rows: list[int], entries: list[int]
    ) -> None:
        """What the erasure left behind, hashes only: who, when, its audit entry, the rows and entries."""


class ConnectionOf(Protocol):
    def connection_of(self, call_id: str) -> str | None: ...


class AuditUnitOfWork(UnitOfWork, Protocol):
    @property
    def audit(self) -> AuditChain: ...


class HoldsUnitOfWork(AuditUnitOfWork, Protocol):
    @property
    def holds(self) -> HoldRecords: ...


class ErasableAudit(AuditChain, Protocol):
    def containing(self, forms: Iterable[str]) -> list[audit_chain.ChainEntry]:
        """Entries whose data, as text, contains any of ``forms`` (candidates: the caller checks)."""
        ...

    def tombstone(self, seq: int, data: dict[str, Any]) -> None: ...


class ErasureUnitOfWork(HoldsUnitOfWork, Protocol):
    @property
    def audit(self) -> ErasableAudit: ...

    @property
    def erasure(self) -> ErasureRecords: ...

    @property
    def calls(self) -> ConnectionOf: ...
