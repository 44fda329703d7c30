"""Parse time per event of the webhook parsers (recorder/web/webhooks/parsing.py, on the callback hot path):
every ACS callback recorded in tests/data/acs-recorded-events/ as a one-event delivery through load_json and
callback_events, and every recorded IncomingCall in an Event Grid envelope through load_json and envelopes.

    .venv/bin/python -m benchmarks.parse_events [ROUNDS]      # default 50; prints the best round per event
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recorder.web.webhooks.parsing import callback_events, envelopes, load_json

RECORDED = Path(__file__).resolve().parents[1] / "tests" / "data" / "acs-recorded-events"


def deliveries() -> tuple[list[bytes], list[bytes]]:
    callbacks: list[Any] = []
    incoming: list[Any] = []
    for path in sorted(RECORDED.glob("*.event.json")):
        for name, payload in json.loads(path.read_text()).items():
            items = payload if isinstance(payload, list) else [payload]
            if name != "IncomingCall":
                callbacks += items
                continue
            for data in items:
                grid = {"id": "eg", "eventType": "Microsoft.Communication.IncomingCall", "subject": "s"}
                incoming.append(
                    {**grid, "eventTime": "2026-11-28T00:00:00Z", "dataVersion": "1.0", "data": data}
                )
    return [json.dumps([e]).encode() for e in callbacks], [json.dumps([e]).encode() for e in incoming]


def per_event(bodies: list[bytes], parse: Callable[[bytes], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for body in bodies:
            parse(body)
        best = min(best, (time.perf_counter() - started) / len(bodies))
    return best


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    now = datetime.now(UTC)
    callbacks, incoming = deliveries()
    acs = per_event(callbacks, lambda b: callback_events(load_json(b), now, 50), rounds)
    grid = per_event(incoming, lambda b: envelopes(load_json(b), 50), rounds)
    print(f"ACS callback: {len(callbacks)} events, {acs * 1e6:.1f} µs per event (best of {rounds} rounds)")
    print(
        f"Event Grid IncomingCall: {len(incoming)} events, {grid * 1e6:.1f} µs per event (best of {rounds})"
    )


if __name__ == "__main__":
    main()
