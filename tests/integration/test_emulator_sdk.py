"""The real Call Automation SDK drives the ACS emulator over HTTP; a local receiver checks what comes back."""

from __future__ import annotations

import base64
import os
import secrets
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from azure.communication.callautomation import CallAutomationClient, PhoneNumberIdentifier, TextSource
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)

from recorder.emulator import EmulatorConfig, start_emulator
from recorder.emulator.hmac_auth import compute_signature, content_hash, string_to_sign
from tests.integration.emulator_harness import (
    ACS_NUMBER,
    RESOURCE_ID,
    Connected,
    Harness,
    connected,
    new_phone,
    phone,
    raw_ids,
    required,
    running_harness,
)


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    with running_harness() as running:
        yield running


def callee_and_app(harness: Harness) -> list[str]:
    return [ACS_NUMBER, harness.control.get("/emulator/self").json()["application"]]


def test_hmac_signature_is_required(harness: Harness) -> None:
    good = harness.client.get_call_connection("no-such-call")
    with pytest.raises(ResourceNotFoundError):
        good.get_call_properties()

    wrong_key = base64.b64encode(os.urandom(32)).decode()
    wrong = CallAutomationClient(harness.emulator.url, AzureKeyCredential(wrong_key))
    # The SDK signs the endpoint's host as written, so a trailing slash breaks every signature.
    slashed = CallAutomationClient(harness.emulator.url + "/", AzureKeyCredential(harness.access_key))
    for client in (wrong, slashed):
        with client, pytest.raises(ClientAuthenticationError):
            client.get_call_connection("no-such-call").get_call_properties()

    unsigned = harness.control.get("/calling/callConnections/no-such-call?api-version=2026-03-12")
    assert unsigned.status_code == 401
    assert unsigned.json()["error"]["code"] == "Unauthorized"

    def signed_get(sent_at: datetime) -> httpx.Response:
        target = "/calling/callConnections/no-such-call?api-version=2026-03-12"
        host = harness.emulator.url.removeprefix("http://")
        date = format_datetime(sent_at, usegmt=True)
        digest = content_hash(b"")
        signed = "x-ms-date;host;x-ms-content-sha256"
        signature = compute_signature(harness.access_key, string_to_sign("GET", target, [date, host, digest]))
        headers = {
            "x-ms-date": date,
            "x-ms-content-sha256": digest,
            "Authorization": f"HMAC-SHA256 SignedHeaders={signed}&Signature={signature}",
        }
        return harness.control.get(target, headers=headers)

    assert signed_get(datetime.now(UTC)).status_code == 404
    assert signed_get(datetime.now(UTC) - timedelta(minutes=20)).status_code == 401


def test_openid_configuration_points_at_the_keys(harness: Harness) -> None:
    document = harness.control.get("/calling/.well-known/acsopenidconfiguration").json()
    assert document["issuer"] == harness.emulator.issuer == harness.emulator.url
    assert document["jwks_uri"] == harness.emulator.jwks_url
    (key,) = harness.control.get("/calling/keys").json()["keys"]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")


def test_inbound_call_is_announced_answered_and_connected(harness: Harness) -> None:
    caller = new_phone()
    started = harness.start_call([{"raw_id": caller}])
    delivery, incoming = harness.receiver.wait_for(
        lambda d, e: e.get("data", {}).get("serverCallId") == started["server_call_id"]
    )[0]
    assert delivery.headers["aeg-event-type"] == "Notification"
    # Event Grid validated the subscription before delivering anything to it
    (validation,) = harness.receiver.validations
    assert validation["headers"]["aeg-event-type"] == "SubscriptionValidation"
    assert validation["events"][0]["eventType"] == "Microsoft.EventGrid.SubscriptionValidationEvent"
    assert incoming["eventType"] == "Microsoft.Communication.IncomingCall"
    assert incoming["subject"] == f"/caller/{caller}/recipient/{ACS_NUMBER}"
    assert incoming["data"]["from"] == {
        "rawId": caller,
        "kind": "phoneNumber",
        "phoneNumber": {"value": caller[2:]},
    }
    assert incoming["data"]["incomingCallContext"] == started["incoming_call_context"]

    properties = connected(
        harness.client.answer_call(started["incoming_call_context"], harness.callback_url())
    )
    assert properties.server_call_id == started["server_call_id"]
    assert harness.describe(started["server_call_id"])["state"] == "connected"
    assert properties.properties.correlation_id == started["correlation_id"]
    with pytest.raises(ResourceExistsError):
        harness.client.answer_call(started["incoming_call_context"], harness.callback_url())

    connection_id = properties.call_connection_id
    call_connected = harness.receiver.callback(connection_id, "CallConnected")
    assert call_connected["source"] == call_connected["subject"] == f"calling/callConnections/{connection_id}"
    assert call_connected["data"]["version"] == "2026-03-12"
    assert call_connected["data"]["publicEventType"] == "Microsoft.Communication.CallConnected"
    assert call_connected["data"]["serverCallId"] == started["server_call_id"]
    updated = harness.receiver.callback(connection_id, "ParticipantsUpdated")
    assert updated["data"]["sequenceNumber"] >= 1
    # the callee number and the application's own identity are participants too, as in real payloads
    participants = [p["identifier"]["rawId"] for p in updated["data"]["participants"]]
    assert participants == [*callee_and_app(harness), caller]
    assert "eventSource" not in updated["data"]  # API version 2026-03-12 payloads carry none

    delivery = harness.receiver.events(lambda d, e: e["id"] == call_connected["id"])[0][0]
    assert delivery.claims is not None
    assert delivery.claims["aud"] == RESOURCE_ID
    assert delivery.claims["iss"] == harness.emulator.issuer
    assert delivery.claims["exp"] - delivery.claims["iat"] == 300
    assert harness.receiver.callback_types(connection_id) == ["CallConnected", "ParticipantsUpdated"]


def test_targeted_recognize_completes_then_times_out(harness: Harness) -> None:
    caller = new_phone()
    properties = harness.answer([{"raw_id": caller, "answers": ["1"], "answer_delay_ms": 20}])
    connection = harness.client.get_call_connection(properties.call_connection_id)
    prompt = TextSource(text="Press 1 to agree to recording.")

    connection.start_recognizing_media(
        "dtmf", phone(caller), play_prompt=prompt, initial_silence_timeout=1, operation_context="consent-1"
    )
    completed = harness.receiver.callback(properties.call_connection_id, "RecognizeCompleted")
    assert completed["data"]["recognitionType"] == "dtmf"
    assert completed["data"]["dtmfResult"] == {"tones": ["one"]}
    assert completed["data"]["operationContext"] == "consent-1"
    assert completed["data"]["resultInformation"]["subCode"] == 8531

    # The answers are used up: the participant stays silent until the initial silence timeout.
    asked_at = time.monotonic()
    connection.start_recognizing_media(
        "dtmf", phone(caller), initial_silence_timeout=1, operation_context="c-2"
    )
    failed = harness.receiver.callback(properties.call_connection_id, "RecognizeFailed")
    assert time.monotonic() - asked_at >= 0.9
    assert failed["data"]["resultInformation"] == {
        "code": 400,
        "subCode": 8510,
        "message": "Action failed, initial silence timeout reached.",
    }
    assert failed["data"]["operationContext"] == "c-2"

    with pytest.raises(HttpResponseError) as not_in_call:
        connection.start_recognizing_media("dtmf", phone(new_phone()), initial_silence_timeout=1)
    assert not_in_call.value.status_code == 400
    participant = harness.describe(properties.server_call_id)["participants"][0]
    assert participant["consented"] is True


def test_play_and_cancel_media_operations(harness: Harness) -> None:
    caller = new_phone()
    properties = harness.answer([{"raw_id": caller, "answers": ["1"], "answer_delay_ms": 5000}])
    connection = harness.client.get_call_connection(properties.call_connection_id)

    connection.play_media_to_all(TextSource(text="This call may be recorded."), operation_context="notice")
    assert harness.receiver.callback(properties.call_connection_id, "PlayStarted")["data"]["operationContext"]
    harness.receiver.callback(properties.call_connection_id, "PlayCompleted")

    connection.start_recognizing_media(
        "dtmf", phone(caller), initial_silence_timeout=10, operation_context="ask"
    )
    connection.cancel_all_media_operations()
    canceled = harness.receiver.callback(properties.call_connection_id, "RecognizeCanceled")
    assert canceled["data"]["operationContext"] == "ask"
    assert canceled["data"]["resultInformation"]["subCode"] == 8508


def test_recording_states_and_unconsented_time(harness: Harness) -> None:
    caller, agent = new_phone(), "8:acs:" + RESOURCE_ID + "_agent-" + secrets.token_hex(4)
    properties = harness.answer(
        [{"raw_id": caller, "answers": ["1"], "answer_delay_ms": 300}, {"raw_id": agent, "exempt": True}]
    )
    connection_id = properties.call_connection_id
    recording = harness.client.start_recording(
        call_connection_id=connection_id, recording_state_callback_url=harness.callback_url("recording")
    )
    assert recording.recording_state == "active"
    recording_id = required(recording.recording_id)
    harness.client.get_call_connection(connection_id).start_recognizing_media(
        "dtmf", phone(caller), initial_silence_timeout=5, operation_context="consent"
    )
    harness.receiver.callback(connection_id, "RecognizeCompleted")
    time.sleep(0.2)
    harness.client.pause_recording(recording_id)
    assert harness.client.get_recording_properties(recording_id).recording_state == "inactive"

    call = harness.describe(properties.server_call_id)
    unconsented = call["unconsented_recorded_ms"]
    # Recorded from the start until the caller pressed 1 (~300 ms later); the agent is exempt.
    assert 250 <= unconsented[caller] <= 900, unconsented
    assert unconsented[agent] == 0
    (interval,) = call["recording_intervals"]
    assert interval["end_ms"] is not None
    assert interval["end_ms"] - interval["start_ms"] >= 450

    harness.client.resume_recording(recording_id)
    harness.client.stop_recording(recording_id)
    states = [
        harness.receiver.callback(connection_id, "RecordingStateChanged", count=n)["data"]["state"]
        for n in range(1, 5)
    ]
    assert states == ["active", "inactive", "active", "inactive"]
    event = harness.receiver.callback(connection_id, "RecordingStateChanged")
    assert event["subject"] == (
        f"calling/recordings/{properties.server_call_id}/{recording_id}/RecordingStateChanged"
    )
    assert event["data"]["recordingKind"] == "azureCommunicationServices"
    assert event["data"]["startDateTime"]
    paths = {
        d.path
        for d, e in harness.receiver.events(
            lambda d, e: e.get("data", {}).get("callConnectionId") == connection_id
        )
        if e["type"].endswith("RecordingStateChanged")
    }
    assert paths == {"/callbacks/recording"}
    assert (
        harness.describe(properties.server_call_id)["unconsented_recorded_ms"][caller] == unconsented[caller]
    )
    with pytest.raises(ResourceNotFoundError):
        harness.client.get_recording_properties(recording_id)


def test_paused_start_by_server_call_id(harness: Harness) -> None:
    properties = harness.answer([{"raw_id": new_phone()}])
    recording = harness.client.start_recording(server_call_id=properties.server_call_id, pause_on_start=True)
    assert recording.recording_state == "inactive"
    event = harness.receiver.callback(properties.call_connection_id, "RecordingStateChanged")
    assert event["data"]["state"] == "inactive"
    assert harness.describe(properties.server_call_id)["recording_intervals"] == []


def test_repeated_request_id_starts_one_recording(harness: Harness) -> None:
    properties = harness.answer([{"raw_id": new_phone()}])
    headers = {
        "Repeatability-Request-ID": str(uuid.uuid4()),
        "Repeatability-First-Sent": format_datetime(datetime.now(UTC), usegmt=True),
    }
    first = harness.client.start_recording(call_connection_id=properties.call_connection_id, headers=headers)
    second = harness.client.start_recording(call_connection_id=properties.call_connection_id, headers=headers)
    assert first.recording_id == second.recording_id
    with pytest.raises(ResourceExistsError):
        harness.client.start_recording(call_connection_id=properties.call_connection_id)

    call = harness.describe(properties.server_call_id)
    starts = [r for r in call["requests"] if r["operation"] == "start_recording"]
    assert [(r["status"], r["repeat"]) for r in starts] == [(200, False), (200, True), (409, False)]
    harness.receiver.callback(properties.call_connection_id, "RecordingStateChanged")
    time.sleep(0.1)
    assert harness.receiver.callback_types(properties.call_connection_id).count("RecordingStateChanged") == 1


def test_participants_properties_and_hang_up(harness: Harness) -> None:
    caller, second = new_phone(), new_phone()
    properties = harness.answer([{"raw_id": caller}, {"raw_id": second, "join_at_ms": 100}])
    connection = harness.client.get_call_connection(properties.call_connection_id)
    first = harness.receiver.callback(properties.call_connection_id, "ParticipantsUpdated")
    update = harness.receiver.callback(properties.call_connection_id, "ParticipantsUpdated", count=2)
    assert update["data"]["sequenceNumber"] > first["data"]["sequenceNumber"]

    participants = list(connection.list_participants())
    assert raw_ids(participants) == [*callee_and_app(harness), caller, second]
    # The raw id travels percent-encoded in the path, which the HMAC signature covers as sent.
    assert raw_ids([connection.get_participant(phone(second))]) == [second]
    assert all(not p.is_muted for p in participants)
    call_properties = connection.get_call_properties()
    assert call_properties.call_connection_state == "connected"
    assert call_properties.source is not None
    assert call_properties.source.raw_id == caller
    assert [target.raw_id for target in call_properties.targets or []] == [ACS_NUMBER]

    connection.remove_participant(phone(second), operation_context="bye")
    removed = harness.receiver.callback(properties.call_connection_id, "RemoveParticipantSucceeded")
    assert removed["data"]["participant"]["rawId"] == second
    assert raw_ids(connection.list_participants()) == [*callee_and_app(harness), caller]

    connection.hang_up(is_for_everyone=True)
    disconnected = harness.receiver.callback(properties.call_connection_id, "CallDisconnected")
    assert disconnected["data"]["resultInformation"]["subCode"] == 7000
    with pytest.raises(ResourceNotFoundError):
        connection.get_call_properties()
    assert harness.describe(properties.call_connection_id)["state"] == "disconnected"


def test_continuous_dtmf_withdrawal_and_leaving_end_the_call(harness: Harness) -> None:
    caller = new_phone()
    script = {
        "raw_id": caller,
        "answers": ["1"],
        "answer_delay_ms": 10,
        "continuous_tones": [{"at_ms": 400, "tone": "9"}],
        "leave_at_ms": 600,
    }
    properties = harness.answer([script])
    connection = harness.client.get_call_connection(properties.call_connection_id)
    connection.start_recognizing_media("dtmf", phone(caller), initial_silence_timeout=5)
    harness.receiver.callback(properties.call_connection_id, "RecognizeCompleted")
    connection.start_continuous_dtmf_recognition(phone(caller), operation_context="watch")
    assert harness.describe(properties.server_call_id)["participants"][0]["consented"] is True

    tone = harness.receiver.callback(properties.call_connection_id, "ContinuousDtmfRecognitionToneReceived")
    assert (tone["data"]["tone"], tone["data"]["sequenceId"]) == ("nine", 1)
    assert tone["data"]["operationContext"] == "watch"
    harness.receiver.callback(properties.call_connection_id, "CallDisconnected")
    call = harness.describe(properties.server_call_id)
    assert call["state"] == "disconnected"
    assert call["participants"][0] == {
        "raw_id": caller,
        "present": False,
        "consented": False,
        "exempt": False,
        "answers_used": 1,
        "continuous_dtmf": False,
        "on_hold": False,
    }


def flaky_attempts(harness: Harness, server_call_id: str, count: int) -> list[tuple[str, int, int]]:
    """The callback attempts to /callbacks/flaky, once ``count`` of them are recorded (the emulator records an
    attempt when the receiver's answer is back, just after the receiver stored the event)."""
    deadline = time.monotonic() + 5
    while True:
        attempts = [
            (a["type"].removeprefix("Microsoft.Communication."), a["attempt"], a["status"])
            for a in harness.describe(server_call_id)["callbacks"]
            if a["url"].endswith("/flaky")
        ]
        if len(attempts) >= count or time.monotonic() > deadline:
            return attempts
        time.sleep(0.02)


def test_a_failed_callback_is_not_redelivered_unless_asked(harness: Harness) -> None:
    harness.receiver.failures["/callbacks/flaky"] = 1
    lost = harness.answer([{"raw_id": new_phone()}], callback="flaky")
    harness.receiver.callback(lost.call_connection_id, "ParticipantsUpdated")
    # ACS documents no redelivery: the CallConnected answered 503 is gone
    assert flaky_attempts(harness, lost.server_call_id, 2) == [
        ("CallConnected", 1, 503),
        ("ParticipantsUpdated", 1, 200),
    ]

    harness.receiver.failures["/callbacks/flaky"] = 1
    retried = harness.answer([{"raw_id": new_phone()}], callback="flaky", behaviour={"callback_retries": 2})
    harness.receiver.callback(retried.call_connection_id, "ParticipantsUpdated")
    assert flaky_attempts(harness, retried.server_call_id, 3) == [
        ("CallConnected", 1, 503),
        ("CallConnected", 2, 200),
        ("ParticipantsUpdated", 1, 200),
    ]


def test_outbound_call_uses_registered_script(harness: Harness) -> None:
    target = new_phone()
    registered = harness.control.post(
        "/emulator/scripts", json={"participants": [{"raw_id": target, "answers": ["2"]}]}
    )
    assert registered.status_code == 201
    created = connected(
        harness.client.create_call(
            phone(target),
            harness.callback_url(),
            source_caller_id_number=PhoneNumberIdentifier("+18005550100"),
        )
    )
    assert created.properties.call_connection_state == "connecting"
    harness.receiver.callback(created.call_connection_id, "CallConnected")
    connection = harness.client.get_call_connection(created.call_connection_id)
    connection.start_recognizing_media("dtmf", phone(target), initial_silence_timeout=5)
    completed = harness.receiver.callback(created.call_connection_id, "RecognizeCompleted")
    assert completed["data"]["dtmfResult"]["tones"] == ["two"]
    assert harness.describe(created.call_connection_id)["participants"][0]["consented"] is False


def test_connect_to_a_call_nobody_answered(harness: Harness) -> None:
    started = harness.start_call([{"raw_id": new_phone()}], deliver_incoming_call=False)
    properties = connected(
        harness.client.connect_call(
            server_call_id=started["server_call_id"], callback_url=harness.callback_url()
        )
    )
    assert properties.server_call_id == started["server_call_id"]
    harness.receiver.callback(properties.call_connection_id, "CallConnected")
    assert not harness.receiver.events(
        lambda d, e: (
            e.get("data", {}).get("serverCallId") == started["server_call_id"] and d.path == "/eventgrid"
        )
    )


def test_control_api_rejects_bad_scenarios(harness: Harness) -> None:
    bad = harness.control.post("/emulator/calls", json={"from": "4:+1", "to": "4:+2", "participants": [{}]})
    assert bad.status_code == 400
    assert "raw_id" in bad.json()["error"]["message"]
    assert harness.control.get("/emulator/calls/unknown").status_code == 404
    requests = harness.control.get("/emulator/requests").json()
    assert requests
    assert {"at_ms", "method", "path", "operation", "repeat", "target"} <= set(requests[-1])


def test_start_recording_on_an_unanswered_call_fails(harness: Harness) -> None:
    started = harness.start_call([{"raw_id": new_phone()}])
    recording = harness.client.start_recording(
        server_call_id=started["server_call_id"],
        recording_state_callback_url=harness.callback_url("recording"),
    )
    assert recording.recording_state == "inactive"
    _, failed = harness.receiver.wait_for(
        lambda d, e: (
            e.get("type") == "Microsoft.Communication.StartRecordingFailed"
            and e["data"]["recordingId"] == recording.recording_id
        )
    )[0]
    assert failed["data"]["serverCallId"] == started["server_call_id"]
    with pytest.raises(HttpResponseError) as invalid:
        harness.client.answer_call("not-a-context", harness.callback_url())
    assert invalid.value.status_code == 400


def test_scripted_hang_ups_follow_the_time_scale(harness: Harness) -> None:
    config = EmulatorConfig(
        access_key=harness.access_key,
        resource_id=RESOURCE_ID,
        time_scale=0.1,
        eventgrid_webhook_url=harness.emulator.config.eventgrid_webhook_url,
    )
    with (
        start_emulator(config) as fast,
        CallAutomationClient(fast.url, AzureKeyCredential(config.access_key)) as client,
    ):
        harness.receiver.trust(httpx.get(fast.jwks_url, trust_env=False).json(), fast.issuer)

        def answered(participant: dict[str, Any], **extra: Any) -> Connected:
            body = {"from": participant["raw_id"], "to": ACS_NUMBER, "participants": [participant], **extra}
            started = httpx.post(f"{fast.url}/emulator/calls", json=body, trust_env=False).json()
            return connected(client.answer_call(started["incoming_call_context"], harness.callback_url()))

        caller = new_phone()
        hangs_up = answered({"raw_id": caller, "answers": ["hangup"], "answer_delay_ms": 1000})
        started_at = time.monotonic()
        client.get_call_connection(hangs_up.call_connection_id).start_recognizing_media(
            "dtmf", phone(caller), initial_silence_timeout=5
        )
        harness.receiver.callback(hangs_up.call_connection_id, "CallDisconnected")
        assert time.monotonic() - started_at < 1.0
        assert "RecognizeCompleted" not in harness.receiver.callback_types(hangs_up.call_connection_id)

        ended = answered({"raw_id": new_phone()}, hang_up_after_ms=2000)
        harness.receiver.callback(ended.call_connection_id, "CallDisconnected", timeout=1.5)
