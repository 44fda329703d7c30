"""The progress printer: a redrawn bar on a terminal, periodic plain lines elsewhere, never stdout."""

from __future__ import annotations

import io

from recorder.progress import Progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_terminal_gets_one_bar_redrawn_in_place_ending_with_a_newline() -> None:
    stream, clock = Tty(), Clock()
    with Progress("export", total=4, stream=stream, clock=clock, width=8) as progress:
        for _ in range(4):
            clock.now += 1
            progress.advance()
    text = stream.getvalue()
    assert text.count("\r") == 4 and text.endswith("\n") and text.count("\n") == 1
    assert "export [##......] 1/4 (25%, 1.0/s, 3s left)" in text
    assert text.rstrip().endswith("export [########] 4/4 (100%, 1.0/s)")


def test_a_log_gets_a_plain_line_every_few_seconds_and_at_the_end() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = Progress("retention", stream=stream, clock=clock, every_seconds=5)
    for _ in range(20):
        clock.now += 1
        progress(progress.done + 1, 20)
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines[0].startswith("retention [") and "1/20" in lines[0]
    assert [line.split("] ")[1].split(" ")[0] for line in lines] == [
        "1/20",
        "6/20",
        "11/20",
        "16/20",
        "20/20",
    ]


def test_unknown_totals_count_and_empty_work_says_so() -> None:
    stream, clock = io.StringIO(), Clock()
    with Progress("scan", stream=stream, clock=clock) as progress:
        clock.now = 2
        progress.advance(10)
    assert stream.getvalue().splitlines() == ["scan: 10 done (5.0/s, 2s)"]
    empty = io.StringIO()
    Progress("retention", stream=empty)(0, 0)
    assert empty.getvalue() == "retention: nothing to do\n"


def test_an_interrupted_bar_leaves_the_terminal_on_a_fresh_line() -> None:
    stream = Tty()
    try:
        with Progress("export", total=10, stream=stream) as progress:
            progress.advance()
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert stream.getvalue().endswith("\n") and "10/10" not in stream.getvalue()
