"""Links pending audit entries into the hash chain, in batches, shortly after they commit.

Every instance runs one; PostgreSQL's advisory lock makes them take turns, and SQLite has one writer.
An entry waits at most about one interval (100 ms) unchained; a crash leaves it pending, never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from recorder.services.compliance.records import AuditUnitOfWork
from recorder.services.worker_loop import WorkerLoop

log = logging.getLogger("recorder.audit")


class AuditSealer(WorkerLoop):
    def __init__(self, unit_of_work: Callable[[], AuditUnitOfWork], interval: float = 0.1) -> None:
        super().__init__("audit-sealer", 1, interval, log)
        self._uow = unit_of_work

    def run_once(self) -> int:
        """Seal one batch; the loop repeats it until nothing is pending."""
        with self._uow() as uow:
            count = uow.audit.seal()
            uow.commit()
        return count

    def run_round(self) -> int:
        try:
            return self.run_once()
        except Exception:
            log.exception("audit.seal_failed")
            return 0

    def seal_all(self) -> int:
        sealed = 0
        while count := self.run_once():
            sealed += count
        return sealed

    def stop(self, timeout: float = 10.0) -> None:
        super().stop(timeout)
        try:
            self.seal_all()  # leave nothing pending behind a clean shutdown
        except Exception:
            log.exception("audit.seal_failed")
