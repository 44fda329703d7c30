"""Callback throughput: authenticated ACS callbacks that each change a call's state, as fast as the service
takes them, on SQLite, PostgreSQL with 1 and 2 workers, beside a bare Starlette endpoint parsing the same
payload and the reference endpoint (the same parse plus one durable INSERT + COMMIT in PostgreSQL), all on the
same server stack and load generator in one run. Prints events/s, p50/p99 latency, and each PostgreSQL row's
ratio to the reference with the same worker count (issue 15's target: >= 0.5).

    .venv/bin/python -m benchmarks.callback_throughput [--seconds 10] [--concurrency 32] [--calls 40]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
from sqlalchemy.engine import make_url

from benchmarks.reference_endpoint import CREATE, DATABASE_URL_ENV
from recorder.web.http_protocol import HTTP_PROTOCOL
from tests.conftest import (
    POSTGRES_ADMIN_URL,
    _postgres_problem,
    drop_postgres_database,
    fresh_postgres_database,
)
from tests.e2e.stack import Stack, free_port, start_stack, wait_http

BARE = "benchmarks.bare_endpoint:app"


def event(sequence: int, people: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "id": str(uuid.uuid4()),
            "source": "calling/callConnections/bench",
            "type": "Microsoft.Communication.ParticipantsUpdated",
            "specversion": "1.0",
            "datacontenttype": "application/json",
            "subject": "calling/callConnections/bench",
            "data": {
                "callConnectionId": "bench",
                "serverCallId": "bench",
                "correlationId": "bench",
                "sequenceNumber": sequence,
                "participants": [{"identifier": {"rawId": p, "kind": "phoneNumber"}} for p in people],
            },
        }
    ]


async def load(
    urls: list[tuple[str, list[str]]], token: str, seconds: float, concurrency: int
) -> tuple[int, list[float]]:
    """aiohttp, not httpx: the load generator must not be the bottleneck it measures."""
    sequences = {url: itertools.count(1000) for url, _ in urls}
    targets = itertools.cycle(urls)
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < deadline:
                url, people = next(targets)
                body = json.dumps(event(next(sequences[url]), people))
                started = time.monotonic()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    latencies.append(time.monotonic() - started)
                    if response.status != 200:
                        errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return errors, latencies


def open_calls(stack: Stack, count: int) -> list[tuple[str, list[str]]]:
    placed = []
    for i in range(count):
        person = f"4:+1777{i:06d}"
        server_call_id = stack.place_call(
            [{"raw_id": person, "answers": ["silence"], "silence_ms": 600000, "leave_at_ms": 900000}]
        )
        placed.append((server_call_id, person))
    urls = []
    for server_call_id, person in placed:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = [
                c["url"]
                for c in stack.emulated_call(server_call_id)["callbacks"]
                if "/webhooks/acs/" in c["url"]
            ]
            if found:
                urls.append((str(found[0]), [person]))
                break
            time.sleep(0.05)
    return urls


def report(name: str, seconds: float, errors: int, latencies: list[float], baseline: float | None) -> float:
    ordered = sorted(latencies)
    rate = len(ordered) / seconds
    p50, p99 = ordered[len(ordered) // 2] * 1000, ordered[int(0.99 * (len(ordered) - 1))] * 1000
    ratio = f"{rate / baseline:.2f}" if baseline else "-"
    print(f"{name:<34}{rate:>10.0f}{p50:>10.1f}{p99:>10.1f}{errors:>8}{ratio:>8}", flush=True)
    return rate


def measure_service(
    url: str, workdir: Path, workers: int, args: argparse.Namespace
) -> tuple[int, list[float]]:
    stack_iter = start_stack(url, workdir, workers=workers)
    stack = next(stack_iter)
    try:
        urls = open_calls(stack, args.calls)
        asyncio.run(load(urls, stack.keys.token(stack.issuer), 2, args.concurrency))  # warm-up
        return asyncio.run(load(urls, stack.keys.token(stack.issuer), args.seconds, args.concurrency))
    finally:
        stack_iter.close()


def measure_endpoint(
    app: str, workers: int, args: argparse.Namespace, env: dict[str, str] | None = None
) -> tuple[int, list[float]]:
    """A plain Starlette app under uvicorn, with the service's HTTP protocol and worker count."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(
        [*command, "--http", HTTP_PROTOCOL, "--log-level", "warning"], env={**os.environ, **(env or {})}
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        urls = [(f"http://127.0.0.1:{port}/webhooks/acs/{i}", [f"4:+1777{i:06d}"]) for i in range(args.calls)]
        asyncio.run(load(urls, "x", 2, args.concurrency))
        return asyncio.run(load(urls, "x", args.seconds, args.concurrency))
    finally:
        server.terminate()
        server.wait(10)


def measure_reference(workers: int, args: argparse.Namespace) -> tuple[int, list[float]]:
    url, name = fresh_postgres_database(POSTGRES_ADMIN_URL)
    plain_url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(plain_url, autocommit=True) as connection:
            connection.execute(CREATE)
        return measure_endpoint(
            "benchmarks.reference_endpoint:app", workers, args, {DATABASE_URL_ENV: plain_url}
        )
    finally:
        drop_postgres_database(POSTGRES_ADMIN_URL, name)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()
    if (problem := _postgres_problem()) is not None:
        print(problem)
        return 1
    print(
        f"callback throughput: {args.seconds:.0f} s per run, "
        f"{args.concurrency} concurrent clients, {args.calls} calls"
    )
    print(f"{'endpoint':<34}{'events/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}{'ratio':>8}")
    for w in (1, 2):
        report(f"bare Starlette, {w} worker(s)", args.seconds, *measure_endpoint(BARE, w, args), None)
    reference = {
        w: report(
            f"reference (INSERT+COMMIT), {w} worker(s)", args.seconds, *measure_reference(w, args), None
        )
        for w in (1, 2)
    }
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        measured = measure_service(sqlite_url, Path(tmp), 1, args)
        report("recorder, SQLite, 1 worker", args.seconds, *measured, None)
    for workers in (1, 2):
        url, name = fresh_postgres_database(POSTGRES_ADMIN_URL)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                measured = measure_service(url, Path(tmp), workers, args)
            label = f"recorder, PostgreSQL, {workers} worker(s)"
            report(label, args.seconds, *measured, reference[workers])
        finally:
            drop_postgres_database(POSTGRES_ADMIN_URL, name)
    print("ratio: events/s over the reference's with the same workers (target >= 0.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
