"""The one background-worker abstraction: a thread that runs ``run_round`` until it reports nothing done,
then sleeps until woken or until the poll interval passes (work left by other instances, retries coming due).

Every queue and every periodic job runs on it: the outbox dispatcher, the event publisher, the reconciler,
recording storage, the audit sealer and the anchor scheduler. ``last_loop_at`` is when a round last ended,
busy or idle, so a wedged loop shows (readiness); ``stop`` lets what is in flight finish.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


class WorkerLoop:
    def __init__(
        self,
        name: str,
        workers: int,
        poll_interval: float,
        log: logging.Logger,
        wakeup: threading.Event | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """``wakeup``: an event producers set when they queued work (given by the composition root, so the
        producers need not know this loop); None: only ``wake()`` and the poll interval."""
        self._name = name
        self._poll_interval = poll_interval
        self._log = log
        self._loop_clock = clock
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._wake = wakeup or threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_loop_at: datetime | None = None

    def run_once(self) -> int:
        """Do one round of work; returns how much was done (0: nothing to do)."""
        raise NotImplementedError

    def run_round(self) -> int:
        """What the loop runs, again and again while it returns more than 0: ``run_once`` unless a periodic
        job (one round per interval) says otherwise."""
        return self.run_once()

    def progressed(self) -> None:
        """Called after every round, busy or idle: the loop is alive."""
        self.last_loop_at = self._loop_clock()

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking new work and let what is in flight finish."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._poll_interval)
            self._wake.clear()
            try:
                while not self._stopping.is_set() and self.run_round():
                    self.progressed()  # a long backlog is progress, not a stall
            except Exception:
                self._log.exception(f"{self._name}.loop_failed")
            self.progressed()
