"""Fault injection for the crash-safety tests.

``RECORDER_CRASH_AT=<point>:<marker file>`` makes the process SIGKILL itself the first time it reaches
``<point>``; the marker file makes that happen once, even across restarts. Unset, ``hit`` costs one compare.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

_armed: tuple[str, Path] | None = None


def configure(spec: str | None) -> None:
    global _armed
    if not spec:
        _armed = None
        return
    point, _, marker = spec.partition(":")
    _armed = (point, Path(marker))


def hit(point: str) -> None:
    if _armed is None or _armed[0] != point or _armed[1].exists():
        return
    _armed[1].write_text(point)
    os.kill(os.getpid(), signal.SIGKILL)
