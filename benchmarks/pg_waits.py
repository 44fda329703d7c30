"""What PostgreSQL's backends wait on while a benchmark runs: ``pg_stat_activity`` sampled every few
milliseconds for one database, counted by wait event (``CPU`` where a running backend waits on nothing), with
the statements most often seen waiting on a lock. Issue 15 asks to find the serialisation, not to guess it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

SAMPLE = """SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'), left(query, 90)
FROM pg_stat_activity WHERE datname = %s AND state = 'active' AND pid <> pg_backend_pid()"""


class WaitSampler:
    def __init__(self, url: str, database: str, every_s: float = 0.005) -> None:
        self._url, self._database, self._every_s = url, database, every_s
        self.waits: Counter[str] = Counter()
        self.locked: Counter[str] = Counter()
        self.samples = 0
        self._stop = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self._url, autocommit=True) as connection:
            while not self._stop.is_set():
                rows = connection.execute(SAMPLE, (self._database,)).fetchall()
                self.samples += 1
                for wait, query in rows:
                    self.waits[wait] += 1
                    if wait.startswith("Lock:") or wait.startswith("LWLock:"):
                        self.locked[f"{wait} {query}"] += 1
                time.sleep(self._every_s)

    def stop(self) -> None:
        self._stop.set()

    def report(self, title: str) -> None:
        busy = sum(self.waits.values())
        print(
            f"  {title}: {self.samples} samples, {busy / max(self.samples, 1):.1f} active backends on average"
        )
        for wait, count in self.waits.most_common(8):
            print(f"    {count / max(self.samples, 1):6.2f}  {wait}")
        for what, count in self.locked.most_common(3):
            print(f"    waiting on a lock: {count / max(self.samples, 1):.2f}  {what}")


@contextmanager
def sampling(url: str, database: str) -> Iterator[WaitSampler]:
    """Sample in a thread for as long as the block runs."""
    sampler = WaitSampler(url, database)
    thread = threading.Thread(target=sampler.run, daemon=True)
    thread.start()
    try:
        yield sampler
    finally:
        sampler.stop()
        thread.join(5)
