"""The running service and the ACS emulator as separate processes, driven only through public interfaces."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.stack import BACKENDS, Stack, changes, stack_on_backend


@pytest.fixture(scope="module", params=BACKENDS)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from stack_on_backend(request, tmp_path_factory.mktemp("e2e"))


def requests_of(call: dict[str, Any], operation: str) -> list[dict[str, Any]]:
    return [r for r in call["requests"] if r["operation"] == operation and not r.get("repeat")]


def callbacks_of(call: dict[str, Any], event_type: str) -> list[dict[str, Any]]:
    delivered = [c for c in call["callbacks"] if c["status"] == 200]
    return [c for c in delivered if c["type"].removeprefix("Microsoft.Communication.") == event_type]


def test_three_who_agree_get_exactly_one_recording_started_after_the_third_consent(stack: Stack) -> None:
    people = ["4:+14255550101", "4:+14255550102", "4:+14255550103"]
    server_call_id = stack.place_call(
        [
            {"raw_id": who, "answers": ["1"], "answer_delay_ms": 100 + 150 * i, "leave_at_ms": 3000}
            for i, who in enumerate(people)
        ]
    )
    call = stack.wait_until_ended(server_call_id)
    starts = requests_of(call, "start_recording")
    assert len(starts) == 1
    consents = callbacks_of(call, "RecognizeCompleted")
    assert len(consents) == 3
    # after ACS sent the third answer (a callback's at_ms is when the service's 200 came back, which may
    # follow the start the service already sent)
    assert starts[0]["at_ms"] >= max(c["sent_at_s"] * 1000 for c in consents)
    assert set(call["unconsented_recorded_ms"].values()) == {0}
    ledger = stack.consents(server_call_id=server_call_id)
    assert sorted((e["participant"], e["outcome"]) for e in ledger) == [(p, "granted") for p in people]
    for entry in ledger:
        assert entry["method"] == "dtmf"
        assert entry["prompt_id"] == "consent-default"
        assert entry["locale"] == "en-US"
        assert len(entry["prompt_sha256"]) == 64
        assert entry["prompted_at"] <= entry["decided_at"]


def test_one_who_declines_means_no_recording(stack: Stack) -> None:
    server_call_id = stack.place_call(
        [
            {"raw_id": "4:+14255550201", "answers": ["1"], "leave_at_ms": 2000},
            {"raw_id": "4:+14255550202", "answers": ["2"], "leave_at_ms": 2000},
        ]
    )
    call = stack.wait_until_ended(server_call_id)
    assert requests_of(call, "start_recording") == []
    outcomes = {e["participant"]: e["outcome"] for e in stack.consents(server_call_id=server_call_id)}
    assert outcomes == {"4:+14255550201": "granted", "4:+14255550202": "declined"}


def test_silence_is_asked_twice_more_then_recorded_as_no_response(stack: Stack) -> None:
    silent = "4:+14255550301"
    server_call_id = stack.place_call(
        [{"raw_id": silent, "answers": ["silence"] * 3, "silence_ms": 200, "leave_at_ms": 4000}]
    )
    call = stack.wait_until_ended(server_call_id)
    assert len(requests_of(call, "start_recognizing_media")) == 3
    assert len(callbacks_of(call, "RecognizeFailed")) == 3
    assert requests_of(call, "start_recording") == []
    (entry,) = stack.consents(server_call_id=server_call_id)
    assert (entry["participant"], entry["outcome"], entry["method"]) == (silent, "no_response", "timeout")


def _call_state(stack: Stack, server_call_id: str) -> tuple[Any, ...]:
    ledger = stack.consents(server_call_id=server_call_id)
    call = stack.emulated_call(server_call_id)
    return len(ledger), len(changes(call))


def _callback_url(stack: Stack) -> tuple[str, str]:
    """A live call's callback URL, as the emulator saw it in the service's answer."""
    server_call_id = stack.place_call(
        [{"raw_id": "4:+14255550401", "answers": ["silence"], "silence_ms": 5000}]
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        urls = [
            c["url"] for c in stack.emulated_call(server_call_id)["callbacks"] if "/webhooks/acs/" in c["url"]
        ]
        if urls:
            return server_call_id, str(urls[0])
        time.sleep(0.1)
    raise AssertionError("the service never answered")


def test_forged_expired_and_wrong_audience_callbacks_are_refused_and_change_nothing(stack: Stack) -> None:
    server_call_id, url = _callback_url(stack)
    time.sleep(0.5)
    before = _call_state(stack, server_call_id)
    intruder = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"iss": stack.issuer, "aud": "e2e-acs-resource", "iat": now, "nbf": now, "exp": now + 300}
    connection_id = stack.emulated_call(server_call_id)["call_connection_id"]
    forged = jwt.encode(claims, intruder, algorithm="RS256", headers={"kid": stack.keys.kid})
    tokens = {
        "forged": forged,
        "expired": stack.keys.token(stack.issuer, iat=now - 900, nbf=now - 900, exp=now - 600),
        "wrong audience": stack.keys.token(stack.issuer, aud="someone-else"),
        "wrong issuer": stack.keys.token("https://evil.example"),
        "unsigned": jwt.encode(claims, "", algorithm="none"),
    }
    event: list[dict[str, Any]] = [
        {
            "id": "forged-1",
            "source": f"calling/callConnections/{connection_id}",
            "type": "Microsoft.Communication.RecognizeCompleted",
            "specversion": "1.0",
            "data": {
                "callConnectionId": connection_id,
                "operationContext": "consent|1|4:+14255550401",
                "dtmfResult": {"tones": ["one"]},
            },
        }
    ]
    for name, token in tokens.items():
        response = httpx.post(url, json=event, headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert response.status_code == 401, name
    assert httpx.post(url, json=event, timeout=5).status_code == 401
    assert _call_state(stack, server_call_id) == before
    # with a valid token, an event about another call is still refused (403), this call's is accepted: the
    # refusals above were about the token alone
    valid = {"Authorization": f"Bearer {stack.keys.token(stack.issuer)}"}
    elsewhere = [{**event[0], "id": "moved-1", "data": {**event[0]["data"], "callConnectionId": "x"}}]
    assert httpx.post(url, json=elsewhere, headers=valid, timeout=5).status_code == 403
    assert httpx.post(url, json=event, headers=valid, timeout=5).status_code == 200


def test_a_wrong_or_missing_event_grid_secret_is_refused(stack: Stack) -> None:
    body = [
        {
            "id": "eg-x",
            "eventType": "Microsoft.Communication.IncomingCall",
            "subject": "s",
            "data": {
                "serverCallId": "x",
                "incomingCallContext": "y",
                "from": {"rawId": "4:+1"},
                "to": {"rawId": "4:+2"},
            },
            "dataVersion": "1.0",
            "eventTime": datetime.now(UTC).isoformat(),  # a fixed date ages out of the event window
        }
    ]
    url = f"{stack.service_url}/webhooks/eventgrid"
    calls_before = len(httpx.get(f"{stack.emulator_url}/emulator/calls", timeout=5).json())
    assert httpx.post(url, params={"secret": "wrong-secret-value"}, json=body, timeout=5).status_code == 401
    assert httpx.post(url, json=body, timeout=5).status_code == 401
    time.sleep(0.3)
    assert len(httpx.get(f"{stack.emulator_url}/emulator/calls", timeout=5).json()) == calls_before


def test_event_grid_validation_handshakes(stack: Stack) -> None:
    url = f"{stack.service_url}/webhooks/eventgrid"
    validation = [
        {
            "id": "v1",
            "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "subject": "",
            "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"},
            "dataVersion": "2",
            "eventTime": datetime.now(UTC).isoformat(),  # a fixed date ages out of the event window
        }
    ]
    response = httpx.post(
        url,
        params={"secret": stack.secret},
        json=validation,
        headers={"aeg-event-type": "SubscriptionValidation"},
        timeout=5,
    )
    assert response.json() == {"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}
    options = httpx.options(
        url,
        params={"secret": stack.secret},
        headers={"WebHook-Request-Origin": "eventgrid.azure.net"},
        timeout=5,
    )
    assert options.status_code == 200
    assert options.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[]", 400),
        (
            json.dumps(
                [{"id": "a", "eventType": "Microsoft.Communication.IncomingCall", "data": {}}]
            ).encode(),
            400,
        ),
        (json.dumps([{"id": "b", "eventType": "Some.Unknown.Event", "data": {}}]).encode(), 200),
        (b"[" * 5000 + b"]" * 5000, 400),
    ],
)
def test_bad_event_grid_input_gets_a_clear_answer_and_changes_nothing(
    stack: Stack, body: bytes, status: int
) -> None:
    before = len(stack.consents())
    response = httpx.post(
        f"{stack.service_url}/webhooks/eventgrid",
        params={"secret": stack.secret},
        content=body,
        headers={"content-type": "application/json"},
        timeout=5,
    )
    assert response.status_code == status
    if status == 400:
        assert response.json()["error"]["code"]
    assert len(stack.consents()) == before


def test_a_callback_for_an_unknown_call_is_acknowledged_and_ignored(stack: Stack) -> None:
    token = stack.keys.token(stack.issuer)
    event = [
        {
            "id": "u-1",
            "source": "s",
            "type": "Microsoft.Communication.CallConnected",
            "specversion": "1.0",
            "data": {"callConnectionId": "nobody"},
        }
    ]
    response = httpx.post(
        f"{stack.service_url}/webhooks/acs/00000000-0000-0000-0000-000000000000",
        json=event,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json()["outcomes"] == {"unknown_call": 1}


def test_the_ledger_needs_a_valid_key_and_a_reading_role(stack: Stack) -> None:
    url = f"{stack.service_url}/api/consents"
    assert httpx.get(url, timeout=5).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer rk_nope"}, timeout=5).status_code == 401
    created = stack.cli("keys", "create", "--role", "service", "--name", "call-center app")
    service_key = created.stdout.strip().splitlines()[-1]
    assert httpx.get(url, headers={"Authorization": f"Bearer {service_key}"}, timeout=5).status_code == 403
    bad = httpx.get(
        url, params={"outcome": "maybe"}, headers={"Authorization": f"Bearer {stack.auditor_key}"}
    )
    assert bad.status_code == 400


def test_the_audit_chain_verifies_through_the_api_and_the_cli(stack: Stack) -> None:
    response = httpx.get(
        f"{stack.service_url}/api/audit/verify",
        headers={"Authorization": f"Bearer {stack.auditor_key}"},
        timeout=10,
    )
    body = response.json()
    assert body["ok"] is True
    assert body["entries"] > 0
    assert body["first_bad"] is None
    assert stack.cli("audit", "verify").returncode == 0


def test_nothing_secret_reaches_the_logs(stack: Stack) -> None:
    text = "".join(p.read_text(errors="replace") for p in stack.logs)
    assert stack.env["RECORDER_ACS_ACCESS_KEY"] not in text
    assert stack.secret not in text
    assert stack.auditor_key not in text
