"""Driving the ACS emulator from e2e tests: fault rules, call actions, its timeline (the truth)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.e2e.stack import Stack

# The emulator's strictest behaviour, whatever the stack's defaults: these tests judge the service against it.
STRICT = (
    *("--behaviour", "self_listed=callee_and_app"),
    *("--behaviour", "media_queue=per_call"),
    *("--behaviour", "callback_retries=0"),
    *("--behaviour", "incoming_call_for_resource_identities=true"),
    *("--behaviour", "repeatability=sdk_operations"),
    *("--behaviour", "repeatability_match_first_sent=true"),
    *("--behaviour", "recording_content_default=audioVideo"),
    *("--behaviour", "recording_format_default=mp4"),
)


def fault(stack: Stack, **rule: Any) -> None:
    """Arm one fault rule (``POST /emulator/faults``), e.g. ``kind="drop_callback", event="..."``."""
    response = httpx.post(f"{stack.emulator_url}/emulator/faults", json=rule, timeout=10)
    assert response.status_code < 300, response.text


def clear_faults(stack: Stack) -> None:
    """Disarm every fault rule: a request rule cannot always be scoped to one call."""
    httpx.delete(f"{stack.emulator_url}/emulator/faults", timeout=10).raise_for_status()


def act(stack: Stack, server_call_id: str, **action: Any) -> dict[str, Any]:
    """Something ACS or a participant does now (``POST /emulator/calls/<id>/actions``)."""
    response = httpx.post(
        f"{stack.emulator_url}/emulator/calls/{server_call_id}/actions", json=action, timeout=10
    )
    assert response.status_code < 300, response.text
    result: dict[str, Any] = response.json()
    return result


def wait_for(predicate: Callable[[], object], timeout: float = 15, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached within {timeout} s")


def requests_of(call: dict[str, Any], operation: str, target: str | None = None) -> list[dict[str, Any]]:
    """First-time requests of one operation (a repeat ACS de-duplicated is not counted), optionally for one
    participant, that ACS accepted."""
    return [
        r
        for r in call["requests"]
        if r["operation"] == operation
        and not r.get("repeat")
        and (target is None or r.get("target") == target)
        and 200 <= (r.get("status") or 0) < 300
    ]


def participant(call: dict[str, Any], raw_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in call["participants"] if p["raw_id"] == raw_id)
    return found


def recording_state(stack: Stack, server_call_id: str) -> str | None:
    recording = stack.emulated_call(server_call_id)["recording"]
    return None if recording is None else str(recording["state"])


def recording_active(call: dict[str, Any]) -> bool:
    """Whether ACS records this call now, as the emulator's view of it says."""
    recording = call["recording"]
    return recording is not None and recording["state"] == "active"


def recording_at(call: dict[str, Any], at_ms: float) -> bool:
    """Whether ACS was recording at ``at_ms`` into the call (the emulator's recording intervals)."""
    return any(
        i["start_ms"] <= at_ms and (i["end_ms"] is None or at_ms < i["end_ms"])
        for i in call["recording_intervals"]
    )


def answered(stack: Stack, server_call_id: str, raw_id: str, answers: int = 1) -> bool:
    return bool(participant(stack.emulated_call(server_call_id), raw_id)["answers_used"] >= answers)


def timeline(stack: Stack, call_connection_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{stack.service_url}/api/calls/{call_connection_id}",
        headers={"Authorization": f"Bearer {stack.auditor_key}"},
        timeout=10,
    )
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found
