"""Long work and lists as the terminal shows them (rich), and as a pipe or a log gets them.

A progress bar goes to stderr and only when stderr is a terminal: piped or redirected, a command prints
nothing there but its result and its problems. Tables go to stdout, coloured on a terminal, plain aligned
columns (no colour, no box, no wrapping) when piped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

PIPE_WIDTH = 10_000  # a table in a pipe is never wrapped to 80 columns


class Tracker:
    """What a loop reports: ``advance(n)`` per item, or ``(done, total)`` as a callback."""

    def __init__(self, bar: Progress, task: Any) -> None:
        self._bar, self._task = bar, task
        self.done = 0

    def advance(self, count: int = 1) -> None:
        self.done += count
        self._bar.advance(self._task, count)

    def __call__(self, done: int, total: int | None = None) -> None:
        self.done = done
        self._bar.update(self._task, completed=done, total=total)


@contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Tracker]:
    """A bar on stderr while the block runs; nothing at all when stderr is not a terminal."""
    console = Console(stderr=True)
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    task = bar.add_task(description, total=total)
    with bar:
        yield Tracker(bar, task)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """``rows`` under ``headers``; an empty cell (None) shows as ``-``."""
    console = Console()
    terminal = console.is_terminal
    table = Table(box=box.SIMPLE_HEAD if terminal else None, pad_edge=terminal, header_style="bold")
    for header in headers:
        table.add_column(header, no_wrap=True)
    for row in rows:
        table.add_row(*("-" if cell is None else str(cell) for cell in row))
    if terminal:
        console.print(table)
        return
    plain = Console(width=PIPE_WIDTH, no_color=True, highlight=False)
    with plain.capture() as captured:
        plain.print(table)
    print("\n".join(line.rstrip() for line in captured.get().splitlines()))
