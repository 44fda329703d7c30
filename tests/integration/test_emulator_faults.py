"""Fault injection through the control API, driven with the real SDK: failing requests, lost, late, doubled
and reordered callbacks, what ACS does on its own (recording state, unsequenced snapshots, lost media), and
which requests ACS de-duplicates."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from azure.communication.callautomation import CallAutomationClient, TextSource
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError

from tests.integration.emulator_harness import Harness, new_phone, phone, required, running_harness


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    with running_harness() as running:
        yield running


@pytest.fixture(autouse=True)
def no_faults_left(harness: Harness) -> Iterator[None]:
    yield
    harness.control.delete("/emulator/faults")


def no_retry_client(harness: Harness) -> CallAutomationClient:
    return CallAutomationClient(harness.emulator.url, AzureKeyCredential(harness.access_key), retry_total=0)


def statuses(harness: Harness, server_call_id: str, operation: str) -> list[int]:
    return [r["status"] for r in harness.describe(server_call_id)["requests"] if r["operation"] == operation]


def test_the_next_requests_of_an_operation_fail_as_asked(harness: Harness) -> None:
    call = harness.answer([{"raw_id": new_phone()}])
    harness.fault(kind="fail_request", operation="start_recording", count=2, status=500, code="8500")
    with no_retry_client(harness) as client:
        for _ in range(2):
            with pytest.raises(HttpResponseError) as failed:
                client.start_recording(call_connection_id=call.call_connection_id)
            assert failed.value.status_code == 500
            assert failed.value.error is not None and failed.value.error.code == "8500"
        assert client.start_recording(call_connection_id=call.call_connection_id).recording_state == "active"
    assert statuses(harness, call.server_call_id, "start_recording") == [500, 500, 200]
    assert harness.control.get("/emulator/faults").json()["active"] == []


def test_a_request_can_fail_after_acs_did_it(harness: Harness) -> None:
    call = harness.answer([{"raw_id": new_phone()}])
    harness.fault(kind="fail_request", operation="start_recording", status=503, applied=True)
    with no_retry_client(harness) as client, pytest.raises(HttpResponseError):
        client.start_recording(
            call_connection_id=call.call_connection_id,
            recording_state_callback_url=harness.callback_url("recording"),
        )
    # the SDK saw a failure, yet ACS records
    assert harness.describe(call.server_call_id)["recording"]["state"] == "active"
    assert (
        harness.receiver.callback(call.call_connection_id, "RecordingStateChanged")["data"]["state"]
        == "active"
    )


def test_callbacks_can_be_dropped_delayed_and_doubled(harness: Harness) -> None:
    caller = new_phone()
    harness.fault(kind="delay_callback", event="CallConnected", delay_ms=400)
    call = harness.answer([{"raw_id": caller, "answers": ["1"], "answer_delay_ms": 10}])
    harness.receiver.callback(call.call_connection_id, "CallConnected", timeout=3)
    assert harness.receiver.callback_types(call.call_connection_id)[:2] == [
        "ParticipantsUpdated",
        "CallConnected",
    ]

    harness.fault(kind="drop_callback", event="RecognizeCompleted", server_call_id=call.server_call_id)
    connection = harness.client.get_call_connection(call.call_connection_id)
    connection.start_recognizing_media("dtmf", phone(caller), initial_silence_timeout=5)
    time.sleep(0.4)
    assert "RecognizeCompleted" not in harness.receiver.callback_types(call.call_connection_id)
    described = harness.describe(call.server_call_id)
    assert described["participants"][0]["consented"] is True  # what happened, though nobody was told
    dropped = [a for a in described["callbacks"] if a["type"].endswith("RecognizeCompleted")]
    assert [(a["status"], a["error"]) for a in dropped] == [(None, "dropped (fault)")]

    harness.fault(kind="duplicate_callback", event="PlayCompleted")
    connection.play_media_to_all(TextSource(text="Thank you."))
    harness.receiver.callback(call.call_connection_id, "PlayCompleted", count=2)
    ids = [
        e["id"]
        for _, e in harness.receiver.events(
            lambda d, e: (
                e.get("type", "").endswith("PlayCompleted")
                and e["data"]["callConnectionId"] == call.call_connection_id
            )
        )
    ]
    assert len(ids) == 2 and ids[0] == ids[1]


def test_callbacks_can_be_reordered(harness: Harness) -> None:
    call = harness.answer([{"raw_id": new_phone()}])
    recording_id = required(
        harness.client.start_recording(call_connection_id=call.call_connection_id).recording_id
    )
    harness.receiver.callback(call.call_connection_id, "RecordingStateChanged")
    harness.fault(kind="reorder_callbacks", event="RecordingStateChanged", count=2)
    harness.client.pause_recording(recording_id)
    harness.client.resume_recording(recording_id)
    states = [
        harness.receiver.callback(call.call_connection_id, "RecordingStateChanged", count=n)["data"]["state"]
        for n in (1, 2, 3)
    ]
    assert states == ["active", "active", "inactive"]  # the resume's report arrived before the pause's


def test_acs_changes_recording_state_and_sends_unsequenced_snapshots_by_itself(harness: Harness) -> None:
    call = harness.answer([{"raw_id": new_phone()}])
    harness.client.start_recording(call_connection_id=call.call_connection_id, pause_on_start=True)
    assert harness.act(call.server_call_id, action="recording_state", state="active").status_code == 200
    assert harness.receiver.callback(call.call_connection_id, "RecordingStateChanged", count=2)["data"][
        "state"
    ] == ("active")
    assert harness.describe(call.server_call_id)["recording_intervals"][0]["end_ms"] is None

    assert (
        harness.act(call.server_call_id, action="participants_updated", sequence_number=False).status_code
        == 200
    )
    unsequenced = harness.receiver.callback(call.call_connection_id, "ParticipantsUpdated", count=2)
    assert "sequenceNumber" not in unsequenced["data"]


def test_a_media_restart_loses_queued_and_running_operations(harness: Harness) -> None:
    first, second = new_phone(), new_phone()
    call = harness.answer([{"raw_id": first, "answers": ["silence"]}, {"raw_id": second, "answers": ["1"]}])
    connection = harness.client.get_call_connection(call.call_connection_id)
    connection.start_recognizing_media("dtmf", phone(first), initial_silence_timeout=2)
    connection.start_recognizing_media("dtmf", phone(second), initial_silence_timeout=2)
    assert len(harness.describe(call.server_call_id)["media_queue"]) == 2

    assert harness.control.post("/emulator/restart").json()["lost_media_operations"] >= 2
    time.sleep(2.5)
    types = harness.receiver.callback_types(call.call_connection_id)
    assert not [t for t in types if t.startswith("Recognize")]
    assert harness.describe(call.server_call_id)["media_queue"] == []


def test_acs_cancels_a_recognition_and_a_prompted_person_leaves(harness: Harness) -> None:
    first, second = new_phone(), new_phone()
    call = harness.answer(
        [
            {"raw_id": first, "answers": ["silence"]},
            {"raw_id": second, "answers": ["silence"]},
            {"raw_id": new_phone()},
        ]
    )
    connection = harness.client.get_call_connection(call.call_connection_id)
    connection.start_recognizing_media(
        "dtmf", phone(first), initial_silence_timeout=10, operation_context="a"
    )
    connection.start_recognizing_media(
        "dtmf", phone(second), initial_silence_timeout=10, operation_context="b"
    )

    assert harness.act(call.server_call_id, action="cancel_media").json() == {"canceled": 1}
    canceled = harness.receiver.callback(call.call_connection_id, "RecognizeCanceled")
    assert (canceled["data"]["operationContext"], canceled["data"]["resultInformation"]["subCode"]) == (
        "a",
        8508,
    )

    assert harness.act(call.server_call_id, action="leave", participant=second).status_code == 200
    failed = harness.receiver.callback(call.call_connection_id, "RecognizeFailed")
    assert failed["data"]["operationContext"] == "b"
    assert failed["data"]["resultInformation"]["subCode"] == 8558


def test_continuous_dtmf_tones_only_where_started_and_tone_failures(harness: Harness) -> None:
    watched, other = new_phone(), new_phone()
    call = harness.answer([{"raw_id": watched}, {"raw_id": other}])
    connection = harness.client.get_call_connection(call.call_connection_id)
    assert harness.act(call.server_call_id, action="tone_failed", participant=watched).status_code == 409
    connection.start_continuous_dtmf_recognition(phone(watched), operation_context="watch")

    assert harness.act(call.server_call_id, action="tone", participant=other, tone="9").status_code == 200
    assert harness.act(call.server_call_id, action="tone", participant=watched, tone="5").status_code == 200
    assert harness.act(call.server_call_id, action="tone_failed", participant=watched).status_code == 200
    received = harness.receiver.callback(call.call_connection_id, "ContinuousDtmfRecognitionToneReceived")
    assert (received["data"]["tone"], received["data"]["operationContext"]) == ("five", "watch")
    failed = harness.receiver.callback(call.call_connection_id, "ContinuousDtmfRecognitionToneFailed")
    assert failed["data"]["operationContext"] == "watch"
    assert (
        harness.receiver.callback_types(call.call_connection_id).count(
            "ContinuousDtmfRecognitionToneReceived"
        )
        == 1
    )


def test_control_api_refuses_bad_rules_and_actions(harness: Harness) -> None:
    assert harness.control.post("/emulator/faults", json={"kind": "explode"}).status_code == 400
    assert (
        harness.control.post("/emulator/faults", json={"kind": "fail_request", "count": 0}).status_code == 400
    )
    bad_status = {"kind": "fail_request", "operation": "play_media", "status": 200}
    assert harness.control.post("/emulator/faults", json=bad_status).status_code == 400
    assert harness.act("no-such-call", action="hang_up").status_code == 404
    call = harness.answer([{"raw_id": new_phone()}])
    assert harness.act(call.server_call_id, action="recording_state", state="paused").status_code == 400
    assert harness.act(call.server_call_id, action="recording_state", state="active").status_code == 409
    assert harness.act(call.server_call_id, action="leave", participant="4:+10000000000").status_code == 409
    assert harness.control.put("/emulator/behaviour", json={"media_queue": "lifo"}).status_code == 400


def repeat_headers(request_id: str, first_sent: datetime) -> dict[str, str]:
    return {
        "Repeatability-Request-ID": request_id,
        "Repeatability-First-Sent": format_datetime(first_sent, usegmt=True),
    }


def test_only_the_sdks_repeatable_operations_are_de_duplicated(harness: Harness) -> None:
    call = harness.answer([{"raw_id": new_phone()}])
    connection = harness.client.get_call_connection(call.call_connection_id)
    headers = repeat_headers(str(uuid.uuid4()), datetime.now(UTC))
    for _ in range(2):  # play is not repeatable in SDK 1.6.0: a retry is a second prompt
        connection.play_media_to_all(TextSource(text="Hello."), headers=dict(headers))
    harness.receiver.callback(call.call_connection_id, "PlayCompleted", count=2, timeout=5)

    started = harness.client.start_recording(
        call_connection_id=call.call_connection_id, headers=dict(headers)
    )
    again = harness.client.start_recording(call_connection_id=call.call_connection_id, headers=dict(headers))
    assert started.recording_id == again.recording_id

    later = repeat_headers(headers["Repeatability-Request-ID"], datetime.now(UTC) + timedelta(seconds=5))
    with pytest.raises(HttpResponseError) as mismatch:  # a new SDK call stamps a new First-Sent
        harness.client.start_recording(call_connection_id=call.call_connection_id, headers=later)
    assert mismatch.value.status_code == 400
    stale = repeat_headers(str(uuid.uuid4()), datetime.now(UTC) - timedelta(minutes=6))
    with pytest.raises(HttpResponseError) as too_old:
        harness.client.start_recording(call_connection_id=call.call_connection_id, headers=stale)
    assert too_old.value.status_code == 412
    not_a_guid = {**headers, "Repeatability-Request-ID": "outbox-17"}
    with pytest.raises(HttpResponseError) as malformed:
        harness.client.start_recording(call_connection_id=call.call_connection_id, headers=not_a_guid)
    assert malformed.value.status_code == 400


def test_a_snapshot_can_carry_an_identifier_without_raw_id(harness: Harness) -> None:
    caller, other = new_phone(), new_phone()
    call = harness.answer([{"raw_id": caller}, {"raw_id": other}])
    sent = harness.act(call.server_call_id, action="participants_updated", without_raw_id=other)
    assert sent.status_code == 200, sent.text
    snapshot = harness.receiver.callback(call.call_connection_id, "ParticipantsUpdated", count=2)
    identifiers = [p["identifier"] for p in snapshot["data"]["participants"]]
    assert {"kind": "phoneNumber", "phoneNumber": {"value": other[2:]}} in identifiers
    assert caller in [i.get("rawId") for i in identifiers]


def test_someone_who_rejoins_is_heard_again_only_once_re_armed(harness: Harness) -> None:
    caller, helper = new_phone(), new_phone()
    script = {
        "raw_id": helper,
        "leave_at_ms": 200,
        "rejoin_at_ms": 400,
        "continuous_tones": [
            {"at_ms": 100, "tone": "1"},
            {"at_ms": 600, "tone": "9"},
            {"at_ms": 1500, "tone": "9"},
        ],
    }
    call = harness.answer([{"raw_id": caller}, script])
    connection = harness.client.get_call_connection(call.call_connection_id)
    connection.start_continuous_dtmf_recognition(phone(helper), operation_context="before")
    harness.receiver.callback(call.call_connection_id, "ContinuousDtmfRecognitionToneReceived")
    harness.receiver.callback(call.call_connection_id, "ParticipantsUpdated", count=3)  # rejoined
    time.sleep(0.3)  # the 9 at 600 ms falls on deaf ears: recognition ended when they left
    connection.start_continuous_dtmf_recognition(phone(helper), operation_context="after")
    again = harness.receiver.callback(
        call.call_connection_id, "ContinuousDtmfRecognitionToneReceived", count=2
    )
    assert (again["data"]["tone"], again["data"]["operationContext"]) == ("nine", "after")
    assert (
        harness.receiver.callback_types(call.call_connection_id).count(
            "ContinuousDtmfRecognitionToneReceived"
        )
        == 2
    )
