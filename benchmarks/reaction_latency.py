"""Reaction latency: from an ACS event leaving the emulator to the ACS request it causes arriving back.

Runs the emulator and the service (PostgreSQL if reachable, else SQLite) as separate processes, places N
concurrent calls (default 200) in which a participant consents, a second joins late and consents, and the
first withdraws with the 9 key, then reports p50/p99 of:
  last consent -> start_recording, late join -> pause_recording, withdrawal key -> pause_recording.

    .venv/bin/python -m benchmarks.reaction_latency [--calls 200] [--workers 2] [--rounds 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.cpu import measuring
from tests.conftest import (
    POSTGRES_ADMIN_URL,
    _postgres_problem,
    drop_postgres_database,
    fresh_postgres_database,
)
from tests.e2e.stack import Stack, start_stack

# The product's defaults but for the prompt's silence timeout (the scenario answers within a second). The e2e
# tests reconcile every second to find faults fast; at 200 calls that is some 400 ACS reads a second, which
# measures the reads, not the gate: operators run the default 5 s.
CONFIG = """
[consent]
reprompts = 2
silence_timeout_seconds = 1
"""


LEAVE_MS = 7000  # when everyone leaves the scenario's calls


def scenario(i: int) -> list[dict[str, Any]]:
    return [
        {
            "raw_id": f"4:+1555{i:06d}",
            "answers": ["1"],
            "answer_delay_ms": 200 + (i * 37) % 500,
            "continuous_tones": [{"at_ms": 4500 + (i * 53) % 800, "tone": "9"}],
            "leave_at_ms": LEAVE_MS,
        },
        {
            "raw_id": f"4:+1666{i:06d}",
            "answers": ["1"],
            "join_at_ms": 2500 + (i * 29) % 600,
            "answer_delay_ms": 300,
            "leave_at_ms": LEAVE_MS,
        },
    ]


REACTIONS = ("last consent -> start", "late join -> pause", "withdrawal -> pause")


def latencies(call: dict[str, Any]) -> dict[str, float]:
    delivered = [c for c in call["callbacks"] if c["status"] == 200 and c.get("sent_at_s") is not None]
    requests = [r for r in call["requests"] if not r.get("repeat")]

    def first_request_after(operation: str, t: float) -> float | None:
        times = [r["at_s"] for r in requests if r["operation"] == operation and r["at_s"] >= t]
        return min(times) if times else None

    def kind(c: dict[str, Any]) -> str:
        return str(c["type"]).removeprefix("Microsoft.Communication.")

    found: dict[str, float] = {}  # of REACTIONS
    starts = [r["at_s"] for r in requests if r["operation"] == "start_recording"]
    consents = [c["sent_at_s"] for c in delivered if kind(c) == "RecognizeCompleted"]
    if starts and consents:
        last_before = max(t for t in consents if t <= starts[0])
        found["last consent -> start"] = starts[0] - last_before
    # The join is the last participant update before the first pause: ACS also reports holds (a targeted
    # prompt puts its listener on hold), so "the second update" is not necessarily the join.
    updates = [c["sent_at_s"] for c in delivered if kind(c) == "ParticipantsUpdated"]
    pauses = sorted(r["at_s"] for r in requests if r["operation"] == "pause_recording")
    before_pause = [t for t in updates if pauses and t <= pauses[0]]
    if before_pause:
        found["late join -> pause"] = pauses[0] - max(before_pause)
    tones = [c["sent_at_s"] for c in delivered if kind(c) == "ContinuousDtmfRecognitionToneReceived"]
    if tones:
        pause = first_request_after("pause_recording", tones[0])
        if pause is not None:
            found["withdrawal -> pause"] = pause - tones[0]
    return found


def run(stack: Stack, calls: int, rounds: int) -> tuple[dict[str, list[float]], int]:
    """``rounds`` rounds one after another, each of ``calls`` concurrent calls; the reactions in ms, and how
    many calls lacked one of them."""
    results: dict[str, list[float]] = {}
    missing = 0
    for r in range(rounds):
        placed = [stack.place_call(scenario(r * calls + i)) for i in range(calls)]
        time.sleep(LEAVE_MS / 1000)  # nothing to ask before everyone left: polling costs the CPU it measures
        for server_call_id in placed:
            call = stack.emulated_call(server_call_id)  # the reactions come long before a call's end
            if call["state"] != "disconnected":
                call = stack.wait_until_ended(server_call_id, timeout=300, poll=0.5)
            found = latencies(call)
            missing += len(found) < len(REACTIONS)
            for name, seconds in found.items():
                results.setdefault(name, []).append(seconds * 1000)
    return results, missing


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1, help="rounds of --calls calls, one after another")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="reaction-"))
    problem = _postgres_problem()
    if problem is None:
        url, name = fresh_postgres_database(POSTGRES_ADMIN_URL)
        backend = f"PostgreSQL, {args.workers} worker(s)"
    else:
        url, name, backend = f"sqlite:///{workdir / 'bench.db'}", "", "SQLite (PostgreSQL unreachable)"
    stack_iter = start_stack(url, workdir, workers=args.workers, config=CONFIG)
    stack = next(stack_iter)
    try:
        started = time.monotonic()
        assert stack.service is not None
        sides = {"service": stack.service.pid, "emulator": stack.processes[0].pid}
        with measuring(sides) as cpu:
            results, missing = run(stack, args.calls, args.rounds)
        elapsed = time.monotonic() - started
    finally:
        stack_iter.close()
        if name:
            drop_postgres_database(POSTGRES_ADMIN_URL, name)
    rounds = f" x {args.rounds} rounds" if args.rounds > 1 else ""
    print(f"reaction latency, {args.calls} concurrent calls{rounds}, {backend}, {elapsed:.0f} s wall time")
    print(f"{'reaction':<24}{'n':>6}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for reaction, values in results.items():
        print(
            f"{reaction:<24}{len(values):>6}{statistics.median(values):>10.1f}"
            f"{percentile(values, 0.99):>10.1f}{max(values):>10.1f}"
        )
    print(cpu.line())
    if missing:
        print(f"({missing} of {args.calls * args.rounds} calls lacked a measurable reaction)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
