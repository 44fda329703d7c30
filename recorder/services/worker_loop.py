"""A background thread that drains a queue: it runs ``run_once`` until nothing is left, then sleeps until
woken or until the poll interval passes (work left by other instances, retries coming due)."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor


class WorkerLoop:
    def __init__(
        self,
        name: str,
        workers: int,
        poll_interval: float,
        log: logging.Logger,
        wakeup: threading.Event | None = None,
    ) -> None:
        """``wakeup``: an event producers set when they queued work (given by the composition root, so the
        producers need not know this loop); None: only ``wake()`` and the poll interval."""
        self._name = name
        self._poll_interval = poll_interval
        self._log = log
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._wake = wakeup or threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Do one round of work; returns how much was done (0: nothing to do)."""
        raise NotImplementedError

    def progressed(self) -> None:
        """Called after every round, busy or idle: the loop is alive."""

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
                while not self._stopping.is_set() and self.run_once():
                    self.progressed()  # a long backlog is progress, not a stall
            except Exception:
                self._log.exception(f"{self._name}.loop_failed")
            self.progressed()
