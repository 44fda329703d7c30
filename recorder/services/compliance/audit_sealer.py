"""Links pending audit entries into the hash chain, in batches, shortly after they commit.

Every instance runs one; PostgreSQL's advisory lock makes them take turns, and SQLite has one writer.
An entry waits at most about one interval (100 ms) unchained; a crash leaves it pending, never lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from recorder.db.unit_of_work import UnitOfWork

log = logging.getLogger("recorder.audit")


class AuditSealer:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork], interval: float = 0.1) -> None:
        self._uow = unit_of_work
        self._interval = interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def seal_all(self) -> int:
        sealed = 0
        while True:
            with self._uow() as uow:
                count = uow.audit.seal()
                uow.commit()
            sealed += count
            if count == 0:
                return sealed

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="audit-sealer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            self.seal_all()  # leave nothing pending behind a clean shutdown
        except Exception:
            log.exception("audit.seal_failed")

    def _loop(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self.seal_all()
            except Exception:
                log.exception("audit.seal_failed")
