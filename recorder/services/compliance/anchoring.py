"""Anchors the audit chain's head outside the database now and then; verifies the chain against anchors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from recorder.domain import audit_chain
from recorder.services.compliance.ports import Anchor, AnchorStore, AnchorStoreError
from recorder.services.compliance.records import AuditChain, AuditUnitOfWork, ChainEntries
from recorder.services.worker_loop import WorkerLoop

log = logging.getLogger("recorder.anchoring")


@dataclass(frozen=True)
class AnchoredVerification:
    chain: audit_chain.Verification
    anchors_configured: bool
    anchors_error: str | None

    def as_json(self) -> dict[str, object]:
        c = self.chain
        return {
            "ok": c.ok,
            "entries": c.entries,
            "head": c.head,
            "first_bad": c.first_bad,
            "anchors": {
                "configured": self.anchors_configured,
                "checked": c.anchors_checked,
                "error": self.anchors_error,
            },
        }


def anchor_head(audit: AuditChain, store: AnchorStore, now: datetime, last_seq: int = 0) -> int:
    """Anchor the current head if it moved past ``last_seq``; returns the anchored seq."""
    current = audit.head()
    if current is None or current[0] <= last_seq:
        return last_seq
    name = store.append(Anchor(current[0], current[1], now))
    log.info("audit.anchored", extra={"seq": current[0], "blob": name})
    return current[0]


def verify(audit: ChainEntries, store: AnchorStore | None) -> AnchoredVerification:
    """The whole chain, and its anchors; on an audited read's session: ``audit_view.verification``."""
    anchors: dict[int, str] = {}
    error = None
    if store is not None:
        try:
            anchors = {a.seq: a.hash for a in store.anchors()}
        except AnchorStoreError as exc:
            error = str(exc)
    chain = audit_chain.verify(audit.entries(), anchors)
    return AnchoredVerification(chain, store is not None, error)


class AnchorScheduler(WorkerLoop):
    """Anchors the head every ``interval`` seconds (and once at start), on a worker loop."""

    def __init__(
        self,
        unit_of_work: Callable[[], AuditUnitOfWork],
        store: AnchorStore,
        clock: Callable[[], datetime],
        interval: float,
    ) -> None:
        super().__init__("audit-anchor", 1, interval, log, clock=clock)
        self._uow, self._store, self._clock = unit_of_work, store, clock
        self.last_seq = 0

    def run_once(self) -> int:
        """Anchor the head now; returns the sequence number anchored."""
        with self._uow() as uow:
            uow.audit.seal_pending()  # anchor everything written so far, chained
            uow.commit()
            self.last_seq = anchor_head(uow.audit, self._store, self._clock(), self.last_seq)
        return self.last_seq

    def run_round(self) -> int:
        """One anchor per interval, never a loop until idle."""
        try:
            self.run_once()
        except Exception as exc:  # storage down: try again next interval, never stop the service
            log.warning("audit.anchor_failed", extra={"error": type(exc).__name__})
        return 0

    def start(self) -> None:
        super().start()
        self.wake()  # the first anchor at start-up

    def stop(self, timeout: float = 10.0) -> None:
        started = self._thread is not None
        super().stop(timeout)
        if started and not self.alive:
            try:
                self.run_once()  # the last entries before shutdown get anchored too
            except Exception as exc:
                log.warning("audit.anchor_failed", extra={"error": type(exc).__name__})
