"""Callback throughput: authenticated ACS callbacks that each change a call's state, as fast as the service
takes them, on SQLite, PostgreSQL with 1 and 2 workers, beside a bare Starlette endpoint parsing the same
payload and the reference endpoint (the same parse plus one durable INSERT + COMMIT in PostgreSQL), all on the
same server stack and load generator in one run. Prints events/s, p50/p99 latency, and each PostgreSQL row's
ratio to the reference with the same worker count (issue 15's target: >= 0.5).

    .venv/bin/python -m benchmarks.callback_throughput [--seconds 10] [--concurrency 32] [--calls 40]
        [--waits]
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
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
from sqlalchemy.engine import make_url

from benchmarks.cpu import CpuUse, measuring
from benchmarks.pg_waits import sampling
from benchmarks.reaction_latency import CONFIG
from benchmarks.reference_endpoint import CREATE, DATABASE_URL_ENV
from recorder.web.http_protocol import HTTP_PROTOCOL
from tests.conftest import (
    POSTGRES_ADMIN_URL,
    _postgres_problem,
    drop_postgres_database,
    fresh_postgres_database,
)
from tests.e2e.acs_control import recording_active
from tests.e2e.stack import Stack, free_port, start_stack, wait_http

BARE = "benchmarks.bare_endpoint:app"


@dataclass(frozen=True)
class Target:
    """A live call: its callback URL and connection id, the person in it, a guest who comes and goes."""

    url: str
    connection: str
    person: str
    guest: str


def event(sequence: int, target: Target) -> list[dict[str, Any]]:
    """A ParticipantsUpdated for ``target``'s call; odd sequence numbers bring the guest in, even ones take
    them out again, so every event changes who is present (and, while recording, pauses or resumes)."""
    people = [target.person, target.guest] if sequence % 2 else [target.person]
    source = f"calling/callConnections/{target.connection}"
    return [
        {
            "id": str(uuid.uuid4()),
            "source": source,
            "type": "Microsoft.Communication.ParticipantsUpdated",
            "specversion": "1.0",
            "datacontenttype": "application/json",
            "subject": source,
            "data": {
                "callConnectionId": target.connection,
                "serverCallId": "bench",
                "correlationId": "bench",
                "sequenceNumber": sequence,
                "participants": [{"identifier": {"rawId": p, "kind": "phoneNumber"}} for p in people],
            },
        }
    ]


async def load(
    targets: list[Target], token: str, seconds: float, concurrency: int
) -> tuple[int, list[float]]:
    """aiohttp, not httpx: the load generator must not be the bottleneck it measures."""
    sequences = {target.url: itertools.count(1000) for target in targets}
    cycle = itertools.cycle(targets)
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < deadline:
                target = next(cycle)
                body = json.dumps(event(next(sequences[target.url]), target))
                started = time.monotonic()
                async with session.post(target.url, data=body, headers=headers) as response:
                    await response.read()
                    latencies.append(time.monotonic() - started)
                    if response.status != 200:
                        errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return errors, latencies


def open_calls(stack: Stack, count: int) -> list[Target]:
    """``count`` calls whose one person agreed and that ACS records, ready for the guest to come and go."""
    placed = []
    for i in range(count):
        person = f"4:+1777{i:06d}"
        server_call_id = stack.place_call([{"raw_id": person, "answers": ["1"], "leave_at_ms": 900000}])
        placed.append((server_call_id, person))
    targets = []
    for i, (server_call_id, person) in enumerate(placed):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            call = stack.emulated_call(server_call_id)
            found = [c["url"] for c in call["callbacks"] if "/webhooks/acs/" in c["url"]]
            if found and recording_active(call):
                targets.append(Target(str(found[0]), call["call_connection_id"], person, f"4:+1888{i:06d}"))
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"call {server_call_id} was not recorded within 60 s")
    return targets


def report(
    name: str, seconds: float, errors: int, latencies: list[float], cpu: CpuUse, baseline: float | None
) -> float:
    ordered = sorted(latencies)
    rate = len(ordered) / seconds
    p50, p99 = ordered[len(ordered) // 2] * 1000, ordered[int(0.99 * (len(ordered) - 1))] * 1000
    ratio = f"{rate / baseline:.2f}" if baseline else "-"
    print(f"{name:<34}{rate:>10.0f}{p50:>10.1f}{p99:>10.1f}{errors:>8}{ratio:>8}", flush=True)
    if errors:
        print(f"  ^ {errors} responses were not 200: this row does not measure accepted events", flush=True)
    print(f"  {cpu.line()}", flush=True)
    return rate


def measure_service(
    url: str, workdir: Path, workers: int, args: argparse.Namespace
) -> tuple[int, list[float], CpuUse]:
    stack_iter = start_stack(url, workdir, workers=workers, config=CONFIG)  # the product's defaults
    stack = next(stack_iter)
    try:
        targets = open_calls(stack, args.calls)
        token = stack.keys.token(stack.issuer)
        asyncio.run(load(targets, token, 2, args.concurrency))  # warm-up
        assert stack.service is not None
        sides = {"service": stack.service.pid, "emulator": stack.processes[0].pid}
        waits = args.waits and url.startswith("postgresql")
        with ExitStack() as during:
            database = make_url(url).database or ""
            sampler = during.enter_context(sampling(plain(url), database)) if waits else None
            cpu = during.enter_context(measuring(sides))
            measured = asyncio.run(load(targets, token, args.seconds, args.concurrency))
        if sampler is not None:
            sampler.report(f"PostgreSQL wait events, {workers} worker(s)")
        return (*measured, cpu)
    finally:
        stack_iter.close()


def plain(url: str) -> str:
    """The SQLAlchemy URL as libpq takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def measure_endpoint(
    app: str, workers: int, args: argparse.Namespace, env: dict[str, str] | None = None
) -> tuple[int, list[float], CpuUse]:
    """A plain Starlette app under uvicorn, with the service's HTTP protocol and worker count."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(
        [*command, "--http", HTTP_PROTOCOL, "--log-level", "warning"], env={**os.environ, **(env or {})}
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        targets = [
            Target(
                f"http://127.0.0.1:{port}/webhooks/acs/{i}",
                f"bench-{i}",
                f"4:+1777{i:06d}",
                f"4:+1888{i:06d}",
            )
            for i in range(args.calls)
        ]
        asyncio.run(load(targets, "x", 2, args.concurrency))
        with measuring({"service": server.pid}) as cpu:
            measured = asyncio.run(load(targets, "x", args.seconds, args.concurrency))
        return (*measured, cpu)
    finally:
        server.terminate()
        server.wait(10)


def measure_reference(workers: int, args: argparse.Namespace) -> tuple[int, list[float], CpuUse]:
    url, name = fresh_postgres_database(POSTGRES_ADMIN_URL)
    plain_url = plain(url)
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
    parser.add_argument(
        "--waits", action="store_true", help="sample PostgreSQL's wait events during the service's runs"
    )
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
