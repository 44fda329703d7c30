"""Who read what, and who was refused: every API read and every denied attempt goes into the audit chain.

A read first chains every entry still pending, so an auditor sees everything written so far, then runs and is
audited in the same transaction: no read without its audit entry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from recorder.services.compliance.records import AuditUnitOfWork

ReadSession = TypeVar("ReadSession")  # what the read models (``services/queries``, SQL by design) query
ReadSession_co = TypeVar("ReadSession_co", covariant=True)
Result = TypeVar("Result")


class ReadUnitOfWork(AuditUnitOfWork, Protocol[ReadSession_co]):
    """An audited read: the read models run on its session."""

    @property
    def session(self) -> ReadSession_co: ...


class AccessLog(Generic[ReadSession]):
    def __init__(
        self, unit_of_work: Callable[[], ReadUnitOfWork[ReadSession]], clock: Callable[[], datetime]
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock

    def read(
        self, actor: str, action: str, details: dict[str, Any], work: Callable[[ReadSession], Result]
    ) -> Result:
        """Run ``work`` and audit it (``actor`` did ``action``), in one transaction."""
        with self._uow() as uow:
            uow.audit.seal_pending()
            result = work(uow.session)
            uow.audit.append(actor, action, None, details, self._clock())
            uow.commit()
        return result

    def recorded_read(
        self, actor: str, action: str, details: dict[str, Any], work: Callable[[ReadSession], Result]
    ) -> Result:
        """Audit ``actor`` doing ``action`` (committed first, whatever the read then does), then run it."""
        self.record(actor, action, details)
        with self._uow() as uow:
            return work(uow.session)

    def denied(self, actor: str, details: dict[str, Any]) -> None:
        """A refused attempt by a known principal is an access too."""
        self.record(actor, "api.denied", details)

    def record(self, actor: str, action: str, details: dict[str, Any]) -> None:
        with self._uow() as uow:
            uow.audit.append(actor, action, None, details, self._clock())
            uow.commit()
