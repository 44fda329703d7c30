"""What an operator watches, from the running service: /metrics after a call through the emulator, the JSON
log lines (request id, ACS ids, masked numbers), and a graceful shutdown that refuses webhooks while it
drains."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.stack import Stack, start_stack
from tests.integration.test_operations import metric

TOKEN = "e2e-metrics-token-0123456789"
A, B = "4:+14255550161", "4:+14255550162"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("operations")
    extra = {"RECORDER_METRICS_TOKEN": TOKEN, "RECORDER_LOG_FORMAT": "json", "RECORDER_DRAIN_SECONDS": "3"}
    yield from start_stack(f"sqlite:///{workdir / 'recorder.db'}", workdir, extra_env=extra)


@pytest.fixture(scope="module")
def finished_call(stack: Stack) -> str:
    server_call_id = stack.place_call(
        [
            {"raw_id": A, "answers": ["1"], "answer_delay_ms": 100, "leave_at_ms": 3000},
            {"raw_id": B, "answers": ["1"], "answer_delay_ms": 250, "leave_at_ms": 3000},
        ]
    )
    call = stack.wait_until_ended(server_call_id)
    assert set(call["unconsented_recorded_ms"].values()) == {0}
    return server_call_id


def scrape(stack: Stack) -> str:
    response = httpx.get(f"{stack.service_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    return response.text


def service_log(stack: Stack) -> list[dict[str, Any]]:
    path = next(p for p in stack.logs if p.name.startswith("service"))
    entries = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))
    return entries


def test_metrics_move_with_a_call(stack: Stack, finished_call: str) -> None:
    text = scrape(stack)
    assert metric(
        text, "recorder_events_received_total", source="eventgrid", type="IncomingCall", outcome="applied"
    )
    for event in ("CallConnected", "ParticipantsUpdated", "RecognizeCompleted", "RecordingStateChanged"):
        assert (
            metric(text, "recorder_events_received_total", source="acs", type=event, outcome="applied") >= 1
        )
    assert metric(text, "recorder_consent_outcomes_total", outcome="granted") >= 2
    assert metric(text, "recorder_recording_segments_total", kind="started") >= 1
    assert metric(text, "recorder_outbox_commands_total", command="StartRecording", result="done") >= 1
    assert metric(text, "recorder_outbox_commands_total", command="PromptParticipant", result="done") >= 2
    assert metric(text, "recorder_event_processing_seconds_count", source="acs") >= 5
    assert metric(text, "recorder_outbox_command_seconds_count", command="AnswerCall") >= 1
    assert metric(text, "recorder_database_up") == 1
    assert "recorder_outbox_oldest_pending_age_seconds" in text


def test_metrics_need_the_token(stack: Stack) -> None:
    assert httpx.get(f"{stack.service_url}/metrics").status_code == 401


def test_log_lines_carry_the_request_id_the_acs_ids_and_masked_numbers(
    stack: Stack, finished_call: str
) -> None:
    entries = service_log(stack)
    mine = [e for e in entries if e.get("serverCallId") == finished_call]
    by_event = {e["event"]: e for e in mine}
    incoming = by_event["call.incoming"]
    assert incoming["request_id"] and incoming["correlationId"]
    assert incoming["caller"] == "4:+1425555****"
    granted = [e for e in mine if e["event"] == "consent.granted"]
    assert sorted(e["participant"] for e in granted) == ["4:+1425555****"] * 2
    connection_id = granted[0]["callConnectionId"]
    for entry in granted:  # logged while applying an ACS callback: that request's id and the call's ids
        assert entry["request_id"] and entry["callConnectionId"] == connection_id and entry["correlationId"]
    dispatched = [e for e in mine if e["event"] == "outbox.done"]
    assert {e["command"] for e in dispatched} >= {"AnswerCall", "PromptParticipant", "StartRecording"}
    assert all(e["callConnectionId"] == connection_id for e in dispatched if e["command"] != "AnswerCall")
    raw = "\n".join(p.read_text() for p in stack.logs if p.name.startswith("service"))
    for number in (A, B):
        assert number.removeprefix("4:") not in raw
    assert not re.search(r"\+1425555\d{4}", raw)


def test_a_request_id_is_echoed(stack: Stack) -> None:
    response = httpx.get(f"{stack.service_url}/readyz", headers={"X-Request-Id": "ops-check-1"})
    assert response.headers["x-request-id"] == "ops-check-1"


def test_sigterm_drains_refuses_webhooks_then_exits(stack: Stack, finished_call: str) -> None:
    assert stack.service is not None
    assert httpx.get(f"{stack.service_url}/readyz").status_code == 200
    stack.service.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    webhook = httpx.post(f"{stack.service_url}/webhooks/eventgrid?secret={stack.secret}", json=[], timeout=5)
    assert webhook.status_code == 503
    assert webhook.json()["error"]["code"] == "draining" and webhook.headers["retry-after"]
    ready = httpx.get(f"{stack.service_url}/readyz", timeout=5)
    assert ready.status_code == 503 and ready.json()["checks"]["accepting_events"] is False
    assert httpx.get(f"{stack.service_url}/healthz", timeout=5).status_code == 200
    try:
        # uvicorn re-raises the signal it caught once it has shut down cleanly: exit status -SIGTERM
        assert stack.service.wait(30) in (0, -signal.SIGTERM)
    except subprocess.TimeoutExpired:
        pytest.fail("the service did not stop after draining")
    events = [e["event"] for e in service_log(stack)]
    assert "shutdown.draining" in events
    assert events.index("shutdown.draining") < events.index("Application shutdown complete.")
