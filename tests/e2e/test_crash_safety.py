"""SIGKILL the service at the worst moments of a call, restart it, and check that the call still completes
with every decision recorded once and every ACS command executed once (PostgreSQL).

ACS does not send a callback again: an answer or a join that arrives while the service is down is lost, and
only the reconciliation loop brings the call forward (it reads the participants, and asks again whose answer
is overdue). ACS does not de-duplicate recognize either: a prompt that may have reached ACS before the crash
is not sent again. So a person is prompted a second time exactly when their answer was lost."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.e2e.acs_control import STRICT, act, recording_active
from tests.e2e.stack import CONFIG, Stack, start_stack

CRASH_CONFIG = CONFIG + "\n[outbox]\nlease_seconds = 2\n"
SETTLE_SECONDS = 4.0  # an outbox lease (2 s) and a reconciliation pass (1 s) after the restart, and some
PEOPLE = ("4:+14255550601", "4:+14255550602")


@pytest.fixture
def crashing_stack(
    request: pytest.FixtureRequest, postgres_server: str, tmp_path: Path
) -> Iterator[tuple[Stack, Path, str]]:
    marker = tmp_path / "crashed"
    url, name = fresh_postgres_database(postgres_server)
    env = {"RECORDER_CRASH_AT": f"{request.param}:{marker}"}
    stacks = start_stack(url, tmp_path, extra_env=env, config=CRASH_CONFIG, emulator_args=STRICT)
    yield from ((stack, marker, request.param) for stack in stacks)
    drop_postgres_database(postgres_server, name)


def run_call_restarting_on_crash(stack: Stack, marker: Path, timeout: float = 60) -> dict[str, object]:
    """Restart the service whenever it died; once ACS records and the restarted service has had time to retry
    what was in doubt (a lease and a reconciliation pass), hang up. Nobody leaves on a timer, so a slow
    machine makes the test slower, never wrong."""
    server_call_id = stack.place_call(
        [
            {"raw_id": who, "answers": ["1", "1"], "answer_delay_ms": 150 * (i + 1), "leave_at_ms": 120_000}
            for i, who in enumerate(PEOPLE)
        ]
    )
    deadline = time.monotonic() + timeout
    restarted_at: float | None = None
    hung_up = False
    while time.monotonic() < deadline:
        assert stack.service is not None and stack.start_service is not None
        if stack.service.poll() is not None:
            stack.service = stack.start_service()
            restarted_at = time.monotonic()
        call = stack.emulated_call(server_call_id)
        if call["state"] == "disconnected":
            time.sleep(1.0)
            return stack.emulated_call(server_call_id) | {"server_call_id": server_call_id}
        settled = restarted_at is not None and time.monotonic() - restarted_at > SETTLE_SECONDS
        if settled and marker.exists() and recording_active(call) and not hung_up:
            act(stack, server_call_id, action="hang_up")
            hung_up = True
        time.sleep(0.05)
    raise TimeoutError(f"the call was not recorded within {timeout} s of its start")


# crash point -> how many answers the crash loses (each is asked for again by the reconciliation loop)
CRASH_POINTS = {
    "event.before_commit.ParticipantsUpdated": 0,  # the join is read back from ACS at start-up
    "event.before_commit.RecognizeCompleted": 2,  # the second answer may come while it is down, too
    "dispatch.before_acs.AnswerCall": 0,
    "dispatch.after_acs.PromptParticipant": 1,  # answered while the service was down
    "dispatch.before_acs.StartRecording": 0,
    "dispatch.after_acs.StartRecording": 0,
}


@pytest.mark.postgres
@pytest.mark.parametrize("crashing_stack", list(CRASH_POINTS), indirect=True)
def test_a_killed_server_restarts_and_the_call_completes_exactly_once(
    crashing_stack: tuple[Stack, Path, str],
) -> None:
    stack, marker, crash_point = crashing_stack
    assert stack.service is not None
    first_pid = stack.service.pid
    call = run_call_restarting_on_crash(stack, marker)
    assert marker.exists(), "the crash point was never reached"
    assert stack.service is not None
    assert stack.service.pid != first_pid, "the service was not restarted"
    requests = call["requests"]
    assert isinstance(requests, list)
    first_time = [r for r in requests if not r.get("repeat") and 200 <= r.get("status", 200) < 300]
    operations = [r["operation"] for r in first_time]
    assert operations.count("answer_call") == 1
    assert operations.count("start_recording") == 1
    prompts = [r["target"] for r in first_time if r["operation"] == "start_recognizing_media"]
    lost = CRASH_POINTS[crash_point]
    assert len(prompts) <= len(PEOPLE) + lost, prompts
    assert all(1 <= prompts.count(who) <= 1 + min(lost, 1) for who in PEOPLE), prompts
    unconsented = call["unconsented_recorded_ms"]
    assert isinstance(unconsented, dict)
    assert set(unconsented.values()) == {0}
    ledger = stack.consents(server_call_id=str(call["server_call_id"]))
    assert sorted((e["participant"], e["outcome"]) for e in ledger) == [(p, "granted") for p in PEOPLE]
    verify = httpx.get(
        f"{stack.service_url}/api/audit/verify",
        headers={"Authorization": f"Bearer {stack.auditor_key}"},
        timeout=10,
    )
    assert verify.json()["ok"] is True
