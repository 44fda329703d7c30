"""Progress for long command-line work (exports, retention runs, large migrations), on stderr.

On a terminal: one bar redrawn in place with rate and time left. Anywhere else (a CI log, a pipe, a
container's log stream): a plain line every ``every_seconds`` and at the end, so logs stay readable. stdout is
never touched, so ``--json`` output stays machine-readable while the bar runs.

    with Progress("export", total=len(rows)) as progress:
        for row in rows:
            ...
            progress.advance()

``Progress`` is also a ``(done, total) -> None`` callable, the shape ``run_retention`` takes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO


class Progress:
    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        stream: TextIO | None = None,
        width: int = 30,
        every_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        enabled: bool = True,
    ) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream or sys.stderr
        self._width = width
        self._every = every_seconds
        self._clock = clock
        self._enabled = enabled
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._started = clock()
        self._last_draw: float | None = None
        self._last_text = ""
        self._finished = False

    def __call__(self, done: int, total: int) -> None:
        self.total = total
        self.update(done)

    def advance(self, by: int = 1) -> None:
        self.update(self.done + by)

    def update(self, done: int) -> None:
        self.done = done
        now = self._clock()
        complete = self.total is not None and done >= self.total
        if complete:
            self.finish()
        elif self._tty or self._last_draw is None or now - self._last_draw >= self._every:
            self._draw(now, final=False)

    def finish(self) -> None:
        if not self._finished:
            self._finished = True
            self._draw(self._clock(), final=True)

    def line(self, now: float) -> str:
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        if self.total:
            fraction = min(self.done / self.total, 1.0)
            filled = int(self._width * fraction)
            left = (self.total - self.done) / rate if rate > 0 else None
            eta = f", {_duration(left)} left" if left is not None and fraction < 1 else ""
            bar = f"[{'#' * filled}{'.' * (self._width - filled)}] "
            return f"{self.label} {bar}{self.done}/{self.total} ({fraction:.0%}, {rate:.1f}/s{eta})"
        if self.total == 0:
            return f"{self.label}: nothing to do"
        return f"{self.label}: {self.done} done ({rate:.1f}/s, {_duration(elapsed)})"

    def _draw(self, now: float, *, final: bool) -> None:
        if not self._enabled:
            return
        self._last_draw = now
        text = self.line(now)
        if final and not self._tty and text == self._last_text:
            return  # the periodic line already said it
        self._last_text = text
        if self._tty:
            end = "\n" if final else ""
            print(f"\r\x1b[K{text}", end=end, file=self._stream, flush=True)
        else:
            print(text, file=self._stream, flush=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._finished:
            return
        if exc_type is None:
            self.finish()
        elif self._tty and self._last_draw is not None:
            print(file=self._stream, flush=True)  # leave the cursor on a fresh line after an interruption
        self._finished = True


def _duration(value: float) -> str:
    seconds = round(value)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
