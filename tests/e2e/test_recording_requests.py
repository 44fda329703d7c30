"""Recording on request and published events: a call-center app drives the service over its API, the emulator
plays the calls, and its Event Grid topic shows exactly what a subscriber receives."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from recorder.services.publishing.event_log import event_id
from tests.e2e.acs_control import act
from tests.e2e.stack import BACKENDS, Stack, published, stack_on_backend


@pytest.fixture(scope="module", params=BACKENDS)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from stack_on_backend(request, tmp_path_factory.mktemp("e2e-requests"), publish_events=True)


@pytest.fixture(scope="module")
def app_key(stack: Stack) -> str:
    created = stack.cli("keys", "create", "--role", "service", "--name", "call-center app")
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


def until(check: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def ongoing_call(stack: Stack, participants: list[dict[str, Any]]) -> str:
    """A call already in progress that nobody told the service about."""
    body = {
        "from": participants[0]["raw_id"],
        "to": "4:+18005550100",
        "participants": participants,
        "deliver_incoming_call": False,
    }
    response = httpx.post(f"{stack.emulator_url}/emulator/calls", json=body, timeout=10)
    response.raise_for_status()
    return str(response.json()["server_call_id"])


def api(stack: Stack, key: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
    return httpx.request(method, f"{stack.service_url}{path}", headers=headers, timeout=10, **kwargs)


def request_state(stack: Stack, key: str, request_id: str) -> dict[str, Any]:
    response = api(stack, key, "GET", f"/api/recordings/{request_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_state(stack: Stack, key: str, request_id: str, state: str, timeout: float = 20) -> dict[str, Any]:
    result: dict[str, Any] = until(
        lambda: (view := request_state(stack, key, request_id))["state"] == state and view,
        f"request {request_id} to be {state}",
        timeout,
    )
    return result


def types_of(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"].removeprefix("recorder.") for e in events]


def requests_of(call: dict[str, Any], operation: str) -> list[dict[str, Any]]:
    return [r for r in call["requests"] if r["operation"] == operation and not r.get("repeat")]


def assert_well_formed(events: list[dict[str, Any]], server_call_id: str) -> None:
    """Stable ids (uuid5 of call id and number), numbered in order without gaps, each id once."""
    call_id = events[0]["data"]["call_id"]
    assert [e["data"]["sequence"] for e in events] == list(range(1, len(events) + 1))
    for e in events:
        assert e["specversion"] == "1.0"
        assert e["source"] == f"/recorder/calls/{server_call_id}"
        assert e["id"] == event_id(call_id, e["data"]["sequence"])
        assert e["data"]["server_call_id"] == server_call_id
    assert len({e["id"] for e in events}) == len(events)


PEOPLE = ["4:+14255550701", "4:+14255550702", "4:+14255550703"]
# people in the calls that must be recorded stay until the test hangs up: a timed leave is a cliff a slow
# machine falls off (the call ends before consent is complete, and the test waits for a recording in vain)
UNTIL_HUNG_UP_MS = 120_000


def test_an_app_asks_for_an_ongoing_three_person_call_to_be_recorded(stack: Stack, app_key: str) -> None:
    server_call_id = ongoing_call(
        stack,
        [
            {
                "raw_id": who,
                "answers": ["1"],
                "answer_delay_ms": 100 + 150 * i,
                "leave_at_ms": UNTIL_HUNG_UP_MS,
            }
            for i, who in enumerate(PEOPLE)
        ],
    )
    body = {"server_call_id": server_call_id, "external_reference": "ticket-42"}
    idempotency = {"Idempotency-Key": f"e2e-{uuid.uuid4()}"}
    first = api(stack, app_key, "POST", "/api/recordings", json=body, headers=idempotency)
    assert first.status_code == 202, first.text
    request_id = first.json()["id"]
    assert first.json()["state"] in ("connecting", "awaiting_consent")
    again = api(stack, app_key, "POST", "/api/recordings", json=body, headers=idempotency)
    assert again.status_code == 200
    assert again.json()["id"] == request_id

    view = wait_state(stack, app_key, request_id, "recording")
    assert view["external_reference"] == "ticket-42"
    call = stack.emulated_call(server_call_id)
    assert len(requests_of(call, "connect_call")) == 1
    assert len(requests_of(call, "start_recording")) == 1
    assert set(call["unconsented_recorded_ms"].values()) == {0}
    # a third retry, after the fact, still makes no second connection
    third = api(stack, app_key, "POST", "/api/recordings", json=body, headers=idempotency)
    assert third.json()["id"] == request_id
    assert len(requests_of(stack.emulated_call(server_call_id), "connect_call")) == 1

    events = until(lambda: (e := published(stack, server_call_id)) and len(e) >= 4 and e, "4 events")
    assert types_of(events) == ["consent.granted"] * 3 + ["recording.started"]
    assert_well_formed(events, server_call_id)
    assert [e["data"]["participant"] for e in events[:3]] == PEOPLE
    for e in events:
        assert e["data"]["recording_request_id"] == request_id
        assert e["data"]["external_reference"] == "ticket-42"
        assert e["data"]["call_connection_id"] == view["call_connection_id"]
    assert events[3]["data"]["recording_id"] == call["recording"]["recording_id"]

    stopped = api(stack, app_key, "DELETE", f"/api/recordings/{request_id}")
    assert stopped.status_code == 200
    assert stopped.json()["state"] == "stopped"
    until(lambda: requests_of(stack.emulated_call(server_call_id), "stop_recording"), "stop_recording")
    act(stack, server_call_id, action="hang_up")
    stack.wait_until_ended(server_call_id)
    events = until(
        lambda: (e := published(stack, server_call_id)) and e[-1]["type"] == "recorder.call.ended" and e,
        "call.ended",
    )
    assert types_of(events) == ["consent.granted"] * 3 + [
        "recording.started",
        "recording.stopped",
        "call.ended",
    ]
    assert_well_formed(events, server_call_id)
    timeline = httpx.get(
        f"{stack.service_url}/api/calls/{view['call_connection_id']}",
        headers={"Authorization": f"Bearer {stack.auditor_key}"},
        timeout=10,
    ).json()
    actions = [a["action"] for a in timeline["audit"]]
    assert "recording_request.stopped" in actions
    assert "call.StopRequested" in actions
    assert [s["kind"] for s in timeline["recording_segments"]] == ["started", "stopped"]
    assert request_state(stack, app_key, request_id)["state"] == "stopped"


def test_one_who_declines_means_no_recording_and_a_declined_request(stack: Stack, app_key: str) -> None:
    server_call_id = ongoing_call(
        stack,
        [
            {"raw_id": "4:+14255550711", "answers": ["1"], "leave_at_ms": 3000},
            {"raw_id": "4:+14255550712", "answers": ["2"], "answer_delay_ms": 300, "leave_at_ms": 3000},
        ],
    )
    created = api(stack, app_key, "POST", "/api/recordings", json={"server_call_id": server_call_id})
    assert created.status_code == 202
    wait_state(stack, app_key, created.json()["id"], "declined")
    stack.wait_until_ended(server_call_id)
    assert requests_of(stack.emulated_call(server_call_id), "start_recording") == []
    events = until(
        lambda: (e := published(stack, server_call_id)) and e[-1]["type"] == "recorder.call.ended" and e,
        "call.ended",
    )
    assert types_of(events) == ["consent.granted", "consent.declined", "call.ended"]
    assert events[1]["data"]["participant"] == "4:+14255550712"
    assert_well_formed(events, server_call_id)
    assert request_state(stack, app_key, created.json()["id"])["state"] == "declined"


def test_a_call_that_does_not_exist_ends_failed_with_the_reason(stack: Stack, app_key: str) -> None:
    missing = "aHR0cHM6Ly9ub3doZXJlLmV4YW1wbGUvY29udi9tYWRlLXVw"
    created = api(stack, app_key, "POST", "/api/recordings", json={"server_call_id": missing})
    assert created.status_code == 202
    failed = wait_state(stack, app_key, created.json()["id"], "failed")
    assert "ConnectCall failed" in failed["failure_reason"]
    assert "404" in failed["failure_reason"]
    events = until(lambda: published(stack, missing), "call.ended")
    assert types_of(events) == ["call.ended"]
    assert events[0]["data"]["failed"] is True


def test_an_outbound_call_that_is_answered_and_consented_is_recorded(stack: Stack, app_key: str) -> None:
    target = "4:+14255550721"
    scripts = {"participants": [{"raw_id": target, "answers": ["1"], "leave_at_ms": UNTIL_HUNG_UP_MS}]}
    httpx.post(f"{stack.emulator_url}/emulator/scripts", json=scripts, timeout=10).raise_for_status()
    body = {"target": target, "source_caller_id": "+18005550100", "external_reference": "campaign-7"}
    created = api(stack, app_key, "POST", "/api/calls", json=body, headers={"Idempotency-Key": "out-1"})
    assert created.status_code == 202, created.text
    view = wait_state(stack, app_key, created.json()["id"], "recording")
    server_call_id = view["server_call_id"]
    call = stack.emulated_call(server_call_id)
    assert call["direction"] == "outbound"
    assert call["from"] == "4:+18005550100"
    assert len(requests_of(call, "create_call")) == 1
    assert set(call["unconsented_recorded_ms"].values()) == {0}
    replay = api(stack, app_key, "POST", "/api/calls", json=body, headers={"Idempotency-Key": "out-1"})
    assert replay.json()["id"] == created.json()["id"]
    calls = httpx.get(f"{stack.emulator_url}/emulator/calls", timeout=10).json()
    assert len([c for c in calls if c["direction"] == "outbound" and c["to"] == target]) == 1
    events = until(lambda: (e := published(stack, server_call_id)) and len(e) >= 2 and e, "2 events")
    assert types_of(events)[:2] == ["consent.granted", "recording.started"]
    assert_well_formed(events, server_call_id)
    act(stack, server_call_id, action="hang_up")


def test_events_wait_out_a_topic_outage_and_a_restart_then_arrive_complete_and_in_order(
    stack: Stack, app_key: str
) -> None:
    assert httpx.post(f"{stack.emulator_url}/emulator/topic", json={"available": False}).status_code == 200
    try:
        calls = [
            ongoing_call(
                stack,
                [
                    {"raw_id": f"4:+1425555080{i}", "answers": ["1"], "leave_at_ms": UNTIL_HUNG_UP_MS},
                    {
                        "raw_id": f"4:+1425555081{i}",
                        "answers": ["1"],
                        "answer_delay_ms": 250,
                        "leave_at_ms": UNTIL_HUNG_UP_MS,
                    },
                ],
            )
            for i in range(2)
        ]
        ids = [
            api(stack, app_key, "POST", "/api/recordings", json={"server_call_id": c}).json()["id"]
            for c in calls
        ]
        # the consent flow and recording do not wait for the topic
        for request_id in ids:
            wait_state(stack, app_key, request_id, "recording", timeout=30)
        for server_call_id in calls:
            act(stack, server_call_id, action="hang_up")
            stack.wait_until_ended(server_call_id)
        until(
            lambda: httpx.get(f"{stack.emulator_url}/emulator/published").json()["refused"] > 0,
            "a refused publish",
        )
        assert all(published(stack, c) == [] for c in calls)
        # the service restarts while the events are still unsent: they are in its database, not its memory
        assert stack.service is not None and stack.start_service is not None
        stack.service.terminate()
        stack.service.wait(10)
        stack.service = stack.start_service()
    finally:
        httpx.post(f"{stack.emulator_url}/emulator/topic", json={"available": True})
    expected = ["consent.granted", "consent.granted", "recording.started", "recording.stopped", "call.ended"]
    for server_call_id in calls:

        def arrived(c: str = server_call_id) -> list[dict[str, Any]] | None:
            events = published(stack, c)
            return events if len(events) >= len(expected) else None

        events = until(arrived, "events after the outage", timeout=90)
        # hung up while recording: ACS reports the recording's end and the call's end in two callbacks whose
        # order is not guaranteed, and the events follow the order the service learned them in
        assert types_of(events)[:3] == expected[:3]
        assert sorted(types_of(events)[3:]) == sorted(expected[3:])
        assert_well_formed(events, server_call_id)


def test_bad_requests_get_clear_answers_and_apps_see_only_their_own(stack: Stack, app_key: str) -> None:
    cases: list[tuple[Any, str]] = [
        ({}, "invalid_body"),
        ({"server_call_id": "a", "call_connection_id": "b"}, "invalid_body"),
        ({"server_call_id": 7}, "invalid_field"),
        ({"server_call_id": "a", "region": "West Europe"}, "invalid_field"),
        ({"server_call_id": "a", "colour": "blue"}, "unknown_field"),
        ([1, 2], "invalid_body"),
    ]
    for body, code in cases:
        response = api(stack, app_key, "POST", "/api/recordings", json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == code, body
    for body, code in [
        ({"target": "+14255550100"}, "invalid_field"),
        ({"target": "4:+14255550100"}, "missing_source_caller_id"),
        ({"target": "4:+14255550100", "source_caller_id": "555"}, "invalid_field"),
    ]:
        response = api(stack, app_key, "POST", "/api/calls", json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (400, code), body
    unknown = api(stack, app_key, "POST", "/api/recordings", json={"call_connection_id": "nobody"})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_call")
    assert api(stack, app_key, "GET", f"/api/recordings/{uuid.uuid4()}").status_code == 404
    assert httpx.post(f"{stack.service_url}/api/recordings", json={"server_call_id": "x"}).status_code == 401
    assert (
        api(stack, stack.auditor_key, "POST", "/api/recordings", json={"server_call_id": "x"}).status_code
        == 403
    )

    key = {"Idempotency-Key": f"reuse-{uuid.uuid4()}"}
    mine = api(
        stack, app_key, "POST", "/api/recordings", json={"server_call_id": "not-a-call-1"}, headers=key
    )
    assert mine.status_code == 202
    reused = api(
        stack, app_key, "POST", "/api/recordings", json={"server_call_id": "not-a-call-2"}, headers=key
    )
    assert (reused.status_code, reused.json()["error"]["code"]) == (409, "idempotency_key_reused")
    other = stack.cli("keys", "create", "--role", "service", "--name", "another app").stdout.splitlines()[-1]
    assert api(stack, other, "GET", f"/api/recordings/{mine.json()['id']}").status_code == 404
    assert api(stack, other, "DELETE", f"/api/recordings/{mine.json()['id']}").status_code == 404
    # the other app's same Idempotency-Key is its own: a separate request
    theirs = api(
        stack, other, "POST", "/api/recordings", json={"server_call_id": "not-a-call-2"}, headers=key
    )
    assert theirs.status_code == 202 and theirs.json()["id"] != mine.json()["id"]
