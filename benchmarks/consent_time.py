"""Time to consent: from the call being answered to ACS recording, for 1 to 5 participants.

ACS runs one queue of media operations per call, so prompts to several people play one after another and a
five-person call reaches consent later than a one-person call. This runs the emulator (strict per-call media
queue, or ``--media-queue parallel`` for comparison) and the service as separate processes (PostgreSQL if
reachable, else SQLite), places ``--calls`` concurrent calls for each participant count, in which every
participant presses 1 ``--answer-ms`` after their prompt starts (the prompt lasts ``--prompt-ms``; the service
lets a key interrupt it), and reports per count the p50 and max of: CallConnected sent -> ACS recording active
(the emulator's own recording interval), and how many prompts each call took.

    .venv/bin/python -m benchmarks.consent_time [--calls 3] [--prompt-ms 4000] [--answer-ms 1500]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import (
    POSTGRES_ADMIN_URL,
    _postgres_problem,
    drop_postgres_database,
    fresh_postgres_database,
)
from tests.e2e.stack import Stack, start_stack

CENTER = "4:+18005550100"


def place(stack: Stack, people: int, index: int, args: argparse.Namespace) -> str:
    participants = [
        {
            "raw_id": f"4:+1555{people}{index:02d}{person:03d}",
            "answers": ["1"],
            "answer_delay_ms": args.answer_ms,
            "leave_at_ms": args.hold_ms,
        }
        for person in range(people)
    ]
    body = {
        "from": participants[0]["raw_id"],
        "to": CENTER,
        "participants": participants,
        "play_ms": args.prompt_ms,
    }
    response = httpx.post(f"{stack.emulator_url}/emulator/calls", json=body, timeout=10)
    response.raise_for_status()
    return str(response.json()["server_call_id"])


def measure(call: dict[str, Any]) -> tuple[float, int] | None:
    """(seconds from CallConnected to ACS recording, prompts sent), or None when it never recorded."""
    connected = [c["sent_at_s"] for c in call["callbacks"] if c["type"].endswith("CallConnected")]
    intervals = call["recording_intervals"]
    if not connected or not intervals:
        return None
    prompts = sum(
        1 for r in call["requests"] if r["operation"] == "start_recognizing_media" and r["status"] == 202
    )
    return intervals[0]["start_ms"] / 1000 - connected[0], prompts


def run(stack: Stack, args: argparse.Namespace) -> dict[int, list[tuple[float, int] | None]]:
    results: dict[int, list[tuple[float, int] | None]] = {}
    for people in range(1, args.max_people + 1):
        placed = [place(stack, people, i, args) for i in range(args.calls)]
        results[people] = [
            measure(stack.wait_until_ended(c, timeout=args.hold_ms / 1000 + 60)) for c in placed
        ]
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3, help="concurrent calls per participant count")
    parser.add_argument("--max-people", type=int, default=5)
    parser.add_argument("--prompt-ms", type=float, default=4000.0)
    parser.add_argument("--answer-ms", type=float, default=1500.0)
    parser.add_argument("--hold-ms", type=float, default=16000.0, help="when everyone hangs up")
    parser.add_argument("--media-queue", choices=["per_call", "parallel"], default="per_call")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="consent-time-"))
    problem = _postgres_problem()
    if problem is None:
        url, name, backend = *fresh_postgres_database(POSTGRES_ADMIN_URL), "PostgreSQL"
    else:
        url, name, backend = f"sqlite:///{workdir / 'bench.db'}", "", "SQLite (PostgreSQL unreachable)"
    stack_iter = start_stack(url, workdir, emulator_args=("--behaviour", f"media_queue={args.media_queue}"))
    stack = next(stack_iter)
    try:
        results = run(stack, args)
    finally:
        stack_iter.close()
        if name:
            drop_postgres_database(POSTGRES_ADMIN_URL, name)
    print(
        f"time to consent, media_queue={args.media_queue}, {args.calls} concurrent calls per row, {backend}, "
        f"prompt {args.prompt_ms:.0f} ms, key pressed {args.answer_ms:.0f} ms into it"
    )
    print(f"{'participants':<14}{'recorded':>10}{'p50 s':>8}{'max s':>8}{'prompts/call':>14}")
    for people, measured in results.items():
        found = [m for m in measured if m is not None]
        times = [seconds for seconds, _ in found] or [float("nan")]
        prompts = statistics.mean(p for _, p in found) if found else float("nan")
        recorded = f"{len(found)}/{len(measured)}"
        print(f"{people:<14}{recorded:>10}{statistics.median(times):>8.2f}{max(times):>8.2f}{prompts:>14.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
