"""When a failed attempt is tried again: the one backoff rule of every queue (outbox, events, storage)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """``base`` seconds after the first attempt, doubling with each, up to ``cap``; after ``max_attempts``
    (or a failure that is not transient) there is no next attempt."""

    base: float
    cap: float | None = None
    max_attempts: int | None = None

    def delay(self, attempts: int, *, transient: bool = True) -> float | None:
        """Seconds until the next attempt after ``attempts`` tries; None: give up."""
        if not transient or (self.max_attempts is not None and attempts >= self.max_attempts):
            return None
        seconds: float = self.base * 2.0 ** (attempts - 1)
        return seconds if self.cap is None else min(self.cap, seconds)
