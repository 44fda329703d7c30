"""CPU seconds each side of a benchmark used (Linux /proc): the service's processes, the emulator's,
PostgreSQL's and the load generator's, so a figure says who was busy, not only how long it took."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_and_parent(pid: int) -> tuple[float, int] | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS, int(fields[1])  # utime + stime, ppid


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _tree(root: int, parents: dict[int, tuple[float, int]]) -> dict[int, float]:
    """``root`` and every live process below it (uvicorn's workers), with their CPU seconds."""
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (_, ppid) in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return {pid: parents[pid][0] for pid in tree if pid in parents}


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _sample(processes: dict[str, int]) -> dict[str, dict[int, float]]:
    parents = {pid: found for pid in _pids() if (found := _cpu_and_parent(pid)) is not None}
    # every PostgreSQL server process on the machine: the benchmark's database is the only busy one
    postgres = {pid: cpu for pid, (cpu, _) in parents.items() if _command(pid).startswith("postgres")}
    return {**{name: _tree(pid, parents) for name, pid in processes.items()}, "PostgreSQL": postgres}


def _used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU spent between the samples by the processes alive at the end (one started between them counts
    whole; one that ended between them is lost: PostgreSQL's short-lived backends, none of ours)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


@dataclass
class CpuUse:
    """Seconds of CPU per side over a measured stretch, and its wall time."""

    sides: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0

    def line(self) -> str:
        parts = [f"{name} {seconds:.1f} s" for name, seconds in self.sides.items()]
        cores = sum(self.sides.values()) / self.wall if self.wall else 0.0
        return (
            f"CPU over {self.wall:.1f} s: " + ", ".join(parts) + f" ({cores:.2f} of {os.cpu_count()} cores)"
        )


@contextmanager
def measuring(processes: dict[str, int]) -> Iterator[CpuUse]:
    """CPU of each named process tree, of PostgreSQL and of this process (the load generator) while the
    block runs."""
    use = CpuUse()
    before, own, started = _sample(processes), os.times(), time.monotonic()
    yield use
    after, own_after = _sample(processes), os.times()
    use.wall = time.monotonic() - started
    use.sides = {name: _used(before[name], after[name]) for name in after}
    use.sides["load generator"] = own_after.user + own_after.system - own.user - own.system
