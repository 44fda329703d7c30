"""Loaded only when the tests run a year ahead under libfaketime (``PYTHONPATH=tests/faketime``, see .ci/run).

Only the calendar is shifted (``FAKETIME_DONT_FAKE_MONOTONIC=1``): a shifted monotonic clock makes every timed
lock or event wait hang, since libfaketime 0.9.10 does not convert ``sem_clockwait``. In that mode it rejects
CPython's ``time.sleep`` (``clock_nanosleep`` to an absolute CLOCK_MONOTONIC deadline) with EINVAL, which also
breaks ``subprocess.wait(timeout)``. The same sleep, as relative waits on ``select()``, works; nothing else
changes.
"""

from __future__ import annotations

import operator
import os
import select
import time
from typing import SupportsIndex


def _sleep(secs: float | SupportsIndex) -> None:
    seconds = secs if isinstance(secs, float) else float(operator.index(secs))
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        select.select([], [], [], left)


if "faketime" in os.environ.get("LD_PRELOAD", ""):
    time.sleep = _sleep
