"""Two `recorder serve` processes on one PostgreSQL and one emulator, 30 calls at once: every call completes
with every ACS effect exactly once and no recorded time without consent.

Instance A runs two uvicorn workers (its /metrics sums both: prometheus-client's multiprocess mode), B one.
Event Grid (the emulator's webhook) reaches instance A only; each call's callbacks then go to whichever
instance ran its AnswerCall (the callbackUri names that instance), and either instance runs any call's outbox
commands: they coordinate only through the database (FOR UPDATE SKIP LOCKED claims with leases).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from recorder.observability.metrics_dir import MULTIPROC_ENV
from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.e2e.acs_control import act, recording_active
from tests.e2e.stack import Stack, free_port, start_stack, wait_http
from tests.integration.test_operations import metric

CALLS = 30
TOKEN = "scale-out-metrics-token-0123"
CONFIG = """
[consent]
reprompts = 2
silence_timeout_seconds = 5
"""


@dataclass
class TwoInstances:
    stack: Stack
    second_url: str
    metrics_dir: Path


@pytest.fixture(scope="module")
def instances(postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoInstances]:
    url, name = fresh_postgres_database(postgres_server)
    workdir = tmp_path_factory.mktemp("scale-out")
    metrics_dir = workdir / "metrics-a"
    extra = {"RECORDER_METRICS_TOKEN": TOKEN, "RECORDER_LOG_FORMAT": "json", MULTIPROC_ENV: str(metrics_dir)}
    try:
        for stack in start_stack(url, workdir, extra_env=extra, config=CONFIG, workers=2):
            port = free_port()
            second_url = f"http://127.0.0.1:{port}"
            log = workdir / "service-b.log"
            stack.logs.append(log)
            with log.open("wb") as out:
                stack.processes.append(  # start_stack's teardown stops it with the others
                    subprocess.Popen(
                        [sys.executable, "-m", "recorder", "serve", "--port", str(port)],
                        env={
                            **{k: v for k, v in stack.env.items() if k != MULTIPROC_ENV},
                            "RECORDER_PUBLIC_URL": second_url,
                        },
                        stdout=out,
                        stderr=out,
                    )
                )
            wait_http(f"{second_url}/healthz")
            yield TwoInstances(stack, second_url, metrics_dir)
    finally:
        drop_postgres_database(postgres_server, name)


def first_time(call: dict[str, Any], operation: str) -> list[dict[str, Any]]:
    return [r for r in call["requests"] if r["operation"] == operation and not r.get("repeat")]


def people(n: int) -> list[str]:
    return [f"4:+1425557{n:02d}{i}1" for i in range(2)]


def place(stack: Stack, n: int) -> str:
    """Both stay until the test hangs up (a timed leave is a cliff a loaded machine falls off)."""
    return stack.place_call(
        [
            {"raw_id": who, "answers": ["1"], "answer_delay_ms": 100 + 150 * i, "leave_at_ms": 300_000}
            for i, who in enumerate(people(n))
        ]
    )


def hang_up_once_recorded(
    stack: Stack, server_call_ids: list[str], timeout: float = 180
) -> dict[str, dict[str, Any]]:
    """Hang up each call once ACS records it; every call's final state after all have ended."""
    deadline = time.monotonic() + timeout
    pending, hung_up = set(server_call_ids), set()
    while pending and time.monotonic() < deadline:
        for server_call_id in sorted(pending):
            call = stack.emulated_call(server_call_id)
            if call["state"] == "disconnected":
                pending.discard(server_call_id)
            elif server_call_id not in hung_up and recording_active(call):
                act(stack, server_call_id, action="hang_up")
                hung_up.add(server_call_id)
        time.sleep(0.5)
    assert not pending, f"{len(pending)} calls were not recorded within {timeout} s"
    time.sleep(1.5)  # the last callbacks and commands are on their way
    return {s: stack.emulated_call(s) for s in server_call_ids}


def test_thirty_concurrent_calls_on_two_instances_get_every_effect_exactly_once(
    instances: TwoInstances,
) -> None:
    stack = instances.stack
    with ThreadPoolExecutor(max_workers=CALLS) as pool:
        server_call_ids = list(pool.map(lambda n: place(stack, n), range(CALLS)))
    calls = hang_up_once_recorded(stack, server_call_ids)

    for n, server_call_id in enumerate(server_call_ids):
        call = calls[server_call_id]
        where = f"call {n} ({server_call_id[-12:]})"
        assert len(first_time(call, "answer_call")) == 1, where
        assert len(first_time(call, "start_recording")) == 1, where
        # no command ran twice, not even as a repeat with the same Repeatability-Request-ID
        ran = [r["operation"] for r in call["requests"]]
        assert ran.count("answer_call") == 1 and ran.count("start_recording") == 1, where
        prompts = first_time(call, "start_recognizing_media")
        for who in people(n):
            assert [p["target"] for p in prompts].count(who) == 1, f"{where}: prompts for {who}"
        assert set(call["unconsented_recorded_ms"].values()) == {0}, where
        ledger = stack.consents(server_call_id=server_call_id)
        assert sorted((e["participant"], e["outcome"]) for e in ledger) == [(p, "granted") for p in people(n)]

    # both instances took part: each ran outbox commands, and each received some call's callbacks
    callback_hosts = {
        c["url"].split("/webhooks/")[0]
        for call in calls.values()
        for c in call["callbacks"]
        if "/acs/" in c["url"]
    }
    assert callback_hosts == {stack.service_url, instances.second_url}
    for url in (stack.service_url, instances.second_url):
        scraped = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).text
        assert (
            metric(scraped, "recorder_outbox_commands_total", command="PromptParticipant", result="done") > 0
        )
        assert metric(scraped, "recorder_outbox_depth") == 0  # both read the same, drained, outbox
    first = httpx.get(f"{stack.service_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    incoming = {"source": "eventgrid", "type": "IncomingCall", "outcome": "applied"}
    assert metric(first, "recorder_events_received_total", **incoming) == CALLS  # both workers' counts
    worker_files = {f.stem.rpartition("_")[2] for f in instances.metrics_dir.glob("counter_*.db")}
    assert len(worker_files) == 2, "each of A's workers keeps its own metric file, summed on scrape"
