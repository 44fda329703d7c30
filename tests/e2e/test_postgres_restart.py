"""PostgreSQL restarts while 20 calls are live: callbacks that arrive meanwhile fail and ACS does not send
them again, so only the reconciliation loop brings those calls forward. Judged by the emulator's timeline:
no call left stuck, nobody recorded without consent, every effect once.

It restarts the machine's PostgreSQL cluster, which every other test using it would feel: it runs under CI
or with RECORDER_TEST_RESTART_POSTGRES=1, and is marked ``exclusive``, which ``scripts/check`` runs on its own
after the parallel run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.e2e.acs_control import STRICT, requests_of
from tests.e2e.stack import Stack, start_stack

CALLS = 20
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.exclusive,
    pytest.mark.skipif(
        not (os.environ.get("CI") == "true" or os.environ.get("RECORDER_TEST_RESTART_POSTGRES") == "1"),
        reason="restarts the shared PostgreSQL cluster: CI=true or RECORDER_TEST_RESTART_POSTGRES=1",
    ),
    pytest.mark.skipif(shutil.which("pg_ctlcluster") is None, reason="needs pg_ctlcluster (Debian)"),
]


def restart_command() -> list[str]:
    (version,) = os.listdir("/etc/postgresql")
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"]


@pytest.fixture
def stack(postgres_server: str, tmp_path: Path) -> Iterator[Stack]:
    url, name = fresh_postgres_database(postgres_server)
    yield from start_stack(url, tmp_path, workers=2, emulator_args=STRICT)
    drop_postgres_database(postgres_server, name)


def test_a_postgres_restart_under_load_leaves_no_call_stuck_and_nobody_recorded_unconsented(
    stack: Stack,
) -> None:
    people: dict[str, list[str]] = {}
    for n in range(CALLS):
        pair = [f"4:+142555{n:02d}{i}1" for i in range(2)]
        script = [
            {"raw_id": who, "answers": ["1"] * 3, "answer_delay_ms": 300 + 400 * i, "leave_at_ms": 20000}
            for i, who in enumerate(pair)
        ]
        people[stack.place_call(script)] = pair
    time.sleep(1.0)  # calls answered, prompts and answers under way
    restarted = subprocess.run(restart_command(), capture_output=True, text=True, timeout=120, check=False)
    assert restarted.returncode == 0, restarted.stderr
    calls = {sid: stack.wait_until_ended(sid, timeout=60) for sid in people}
    for server_call_id, call in calls.items():
        assert len(requests_of(call, "answer_call")) == 1, server_call_id
        assert len(requests_of(call, "start_recording")) == 1, ("stuck: never recorded", server_call_id)
        assert set(call["unconsented_recorded_ms"].values()) == {0}, call["unconsented_recorded_ms"]
        prompts = [r["target"] for r in requests_of(call, "start_recognizing_media")]
        assert all(1 <= prompts.count(who) <= 3 for who in people[server_call_id]), prompts
        ledger = stack.consents(server_call_id=server_call_id)
        assert sorted((e["participant"], e["outcome"]) for e in ledger) == [
            (who, "granted") for who in sorted(people[server_call_id])
        ]
    asked_again = sum(len(requests_of(c, "start_recognizing_media")) for c in calls.values()) - 2 * CALLS
    print(f"\n{CALLS} calls through a PostgreSQL restart: all recorded once; {asked_again} asked again")
